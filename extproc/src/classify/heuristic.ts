// The built-in classifier: no network, a few regular expressions over the classified text.
// Every rule whose conditions all hold adds its score to its label; the highest total wins
// (the label listed first in classifier.labels on a tie), if it reaches min_score.
import type { HeuristicDoc, RuleDoc } from "../policy/classifier.js";
import type { ClassifierInput } from "./input.js";

/** A fenced block, or a line that starts the way code does. */
const CODE =
  /```|~~~|^[ \t]*(?:def |class |import |from \S+ import |function |const |let |var |public |private |#include|package |fn |func |SELECT |INSERT |CREATE TABLE)/im;
/** LaTeX, math symbols, powers, or arithmetic with an equals sign. */
const MATH =
  /\$\$|\\\(|\\\[|\\(?:frac|int|sum|prod|sqrt|lim|begin)\b|[∫∑∏√∂∞≤≥≠±×÷]|[\w)]\s*\^\s*[\d({]|\d\s*[+\-*/]\s*\d+\s*=/i;

export interface HeuristicResult {
  /** Index into the label list; undefined when no label reached min_score. */
  label: number | undefined;
  /** Total score per label, in label order. */
  scores: number[];
}

interface Flags {
  code?: boolean;
  math?: boolean;
}

type Test = (input: ClassifierInput, text: string, flags: Flags) => boolean;

export type Heuristic = (input: ClassifierInput) => HeuristicResult;

export function compileHeuristic(doc: HeuristicDoc, labels: readonly string[]): Heuristic {
  const rules = doc.rules.map((r) => ({ label: labels.indexOf(r.label), score: r.score, tests: testsOf(r) }));
  const minScore = doc.min_score;
  return (input) => {
    const scores = labels.map(() => 0);
    const flags: Flags = {};
    for (const r of rules) {
      if (r.label < 0) continue;
      let ok = true;
      for (const t of r.tests)
        if (!t(input, input.text, flags)) {
          ok = false;
          break;
        }
      if (ok) scores[r.label] = (scores[r.label] as number) + r.score;
    }
    let best: number | undefined;
    scores.forEach((s, i) => {
      if (s >= minScore && (best === undefined || s > (scores[best] as number))) best = i;
    });
    return { label: best, scores };
  };
}

function testsOf(r: RuleDoc): Test[] {
  const t: Test[] = [];
  const { min_chars, max_chars, min_messages, max_messages, code, math, tools, keywords, regex } = r;
  if (min_chars !== undefined) t.push((_i, text) => text.length >= min_chars);
  if (max_chars !== undefined) t.push((_i, text) => text.length <= max_chars);
  if (min_messages !== undefined) t.push((i) => i.messages >= min_messages);
  if (max_messages !== undefined) t.push((i) => i.messages <= max_messages);
  if (tools !== undefined) t.push((i) => i.hasTools === tools);
  if (code !== undefined) t.push((_i, text, f) => hasCode(text, f) === code);
  if (math !== undefined) t.push((_i, text, f) => hasMath(text, f) === math);
  if (keywords !== undefined) {
    const re = keywordRegex(keywords);
    t.push((_i, text) => re.test(text));
  }
  if (regex !== undefined) {
    const re = new RegExp(regex, "iu");
    t.push((_i, text) => re.test(text));
  }
  return t;
}

// Each is tested once per request, however many rules ask.
function hasCode(text: string, f: Flags): boolean {
  if (f.code === undefined) f.code = CODE.test(text);
  return f.code;
}

function hasMath(text: string, f: Flags): boolean {
  if (f.math === undefined) f.math = MATH.test(text);
  return f.math;
}

/** Any of the words or phrases, case-insensitive, not inside a longer word ("sum" misses "summary"). */
export function keywordRegex(words: readonly string[]): RegExp {
  const alt = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\s+/g, "\\s+")).join("|");
  return new RegExp(`(?<![\\p{L}\\p{N}_])(?:${alt})(?![\\p{L}\\p{N}_])`, "iu");
}
