// The built-in classifier: no network, a few regular expressions over the classified text.
// Every rule whose conditions all hold adds its score to its label; the highest total wins
// (the label listed first in classifier.labels on a tie), if it reaches min_score.
import type { HeuristicDoc, RuleDoc } from "../policy/classifier.js";
import type { ClassifierInput } from "./input.js";

/** A line that starts the way code does (tried at each line start only). */
const CODE_LINE =
  /[ \t]*(?:def |class |import |from \S+ import |function |const |let |var |public |private |#include|package |fn |func |SELECT |INSERT |CREATE TABLE)/y;
/** LaTeX, math symbols, powers, or arithmetic with an equals sign. */
const MATH =
  /\$\$|\\\(|\\\[|\\(?:frac|int|sum|prod|sqrt|lim|begin)\b|[∫∑∏√∂∞≤≥≠±×÷]|[\w)]\s*\^\s*[\d({]|\d\s*[+\-*/]\s*\d+\s*=/i;
/** A character MATH cannot match without: most texts have none, and this scan is cheap. */
const MATH_HINT = /[$\\^=∫∑∏√∂∞≤≥≠±×÷]/;

export interface HeuristicResult {
  /** Index into the label list; undefined when no label reached min_score. */
  label: number | undefined;
  /** Total score per label, in label order. */
  scores: number[];
}

/** What is found in the text, each at most once per request however many rules ask. */
interface Flags {
  code?: boolean;
  math?: boolean;
  /** keyword list i occurs in the text */
  keywords?: boolean[];
}

type Test = (input: ClassifierInput, text: string, flags: Flags) => boolean;

export type Heuristic = (input: ClassifierInput) => HeuristicResult;

export function compileHeuristic(doc: HeuristicDoc, labels: readonly string[]): Heuristic {
  const lists: (readonly string[])[] = [];
  const rules = doc.rules.map((r) => ({
    label: labels.indexOf(r.label),
    score: r.score,
    tests: testsOf(r, lists),
  }));
  // Every rule's keywords in one pass over the text; at each position where some keyword starts,
  // each list not found yet is tried there (one list's word may shadow another's).
  // Matched against the lowercased text: a case-insensitive scan costs twice as much.
  const lower = lists.map((l) => l.map((w) => w.toLowerCase()));
  const all = lists.length === 0 ? undefined : keywordRegex(lower, "g", false);
  const each = lower.map((l) => keywordRegex([l], "y", false));
  const minScore = doc.min_score;
  return (input) => {
    const scores = labels.map(() => 0);
    const flags: Flags = {};
    if (all) flags.keywords = findLists(all, each, input.text.toLowerCase());
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

function findLists(all: RegExp, each: readonly RegExp[], text: string): boolean[] {
  const found = each.map(() => false);
  let left = each.length;
  all.lastIndex = 0;
  for (let m = all.exec(text); m !== null && left > 0; m = all.exec(text)) {
    for (let j = 0; j < each.length; j++) {
      if (found[j]) continue;
      const re = each[j] as RegExp;
      re.lastIndex = m.index;
      if (re.test(text)) {
        found[j] = true;
        left--;
      }
    }
    all.lastIndex = m.index + 1;
  }
  return found;
}

function testsOf(r: RuleDoc, lists: (readonly string[])[]): Test[] {
  const t: Test[] = [];
  const { min_chars, max_chars, min_messages, max_messages, code, math, tools, keywords, regex } = r;
  if (min_chars !== undefined) t.push((_i, text) => text.length >= min_chars);
  if (max_chars !== undefined) t.push((_i, text) => text.length <= max_chars);
  if (min_messages !== undefined) t.push((i) => i.messages >= min_messages);
  if (max_messages !== undefined) t.push((i) => i.messages <= max_messages);
  if (tools !== undefined) t.push((i) => i.hasTools === tools);
  if (keywords !== undefined) {
    const list = lists.push(keywords) - 1;
    t.push((_i, _text, f) => f.keywords?.[list] === true);
  }
  if (code !== undefined) t.push((_i, text, f) => hasCode(text, f) === code);
  if (math !== undefined) t.push((_i, text, f) => hasMath(text, f) === math);
  if (regex !== undefined) {
    const re = new RegExp(regex, "iu");
    t.push((_i, text) => re.test(text));
  }
  return t;
}

function hasCode(text: string, f: Flags): boolean {
  if (f.code === undefined) f.code = findCode(text);
  return f.code;
}

/** A fenced block (``` or ~~~), or a line that starts like code. */
function findCode(text: string): boolean {
  if (text.includes("```") || text.includes("~~~")) return true;
  for (let i = 0; i >= 0; ) {
    CODE_LINE.lastIndex = i;
    if (CODE_LINE.test(text)) return true;
    const nl = text.indexOf("\n", i);
    i = nl < 0 ? -1 : nl + 1;
  }
  return false;
}

function hasMath(text: string, f: Flags): boolean {
  if (f.math === undefined) f.math = MATH_HINT.test(text) && MATH.test(text);
  return f.math;
}

/**
 * Any of the words or phrases, case-insensitive, not inside a longer word ("sum" misses
 * "summary"); one capture group per list.
 */
export function keywordRegex(lists: readonly (readonly string[])[], flags = "", anyCase = true): RegExp {
  const group = (words: readonly string[]) =>
    `(${words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\s+/g, "\\s+")).join("|")})`;
  return new RegExp(
    `(?<![\\p{L}\\p{N}_])(?:${lists.map(group).join("|")})(?![\\p{L}\\p{N}_])`,
    `${anyCase ? "i" : ""}u${flags}`,
  );
}
