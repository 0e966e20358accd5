// The classifier section: shape and cross-references, each with the message a user sees.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  classifierYaml,
  HEURISTIC_YAML,
  policyWithClassifier,
} from "../../../test/fixtures/classifier-set.js";
import { parsePolicy } from "./load.js";
import { formatPath } from "./problems.js";

const HEUR = classifierYaml("heuristic", HEURISTIC_YAML);
const EMB = (endpoint: string, examples = "{ fast-path: [hi], high-compute: [prove it] }") =>
  classifierYaml("embeddings", `  embeddings:\n${endpoint}    examples: ${examples}\n`);

function problems(text: string, env: NodeJS.ProcessEnv = {}) {
  const r = parsePolicy(text, env);
  const all = r.ok ? r.warnings : [...r.errors, ...r.warnings];
  return all.map((p) => `${p.severity}: ${formatPath(p.path)}: ${p.message}`);
}

describe("policy: classifier", () => {
  test("the fixture loads; labels compile to class indices; auto features are marked", () => {
    const r = parsePolicy(policyWithClassifier(HEUR), {});
    assert.ok(r.ok);
    assert.deepEqual(
      [...r.policy.labels],
      [
        ["fast-path", 0],
        ["general", 1],
        ["high-compute", 2],
      ],
    );
    assert.equal(r.policy.features.get("composer")?.auto, true);
    assert.equal(r.policy.features.get("composer")?.cap, 1);
    assert.equal(r.policy.headers.label, "x-llm-label");
  });

  const cases: [string, string, string][] = [
    [
      "a label that is not a class",
      HEUR.replace("general: balanced", "general: balancd"),
      "error: classifier.labels.general: 'balancd' is not a class (did you mean 'balanced'?); classes: fast, balanced, frontier",
    ],
    [
      "a fallback that is not a label",
      HEUR.replace("fallback: general", "fallback: generl"),
      "error: classifier.fallback: 'generl' is not a label (did you mean 'general'?); labels: fast-path, general, high-compute",
    ],
    [
      "a rule for an unknown label",
      HEUR.replace("{ label: high-compute, code: true", "{ label: hard, code: true"),
      "error: classifier.heuristic.rules[0].label: 'hard' is not a label; labels: fast-path, general, high-compute",
    ],
    [
      "a rule without a condition",
      HEUR.replace("{ label: high-compute, code: true, score: 3 }", "{ label: high-compute, score: 3 }"),
      "error: classifier.heuristic.rules[0]: a rule needs at least one condition (min_chars, max_chars, min_messages, max_messages, code, math, tools, keywords, regex)",
    ],
    [
      "an invalid regex",
      HEUR.replace("{ label: high-compute, code: true, score: 3 }", "{ label: high-compute, regex: '(' }"),
      "error: classifier.heuristic.rules[0].regex: not a valid regular expression",
    ],
    [
      "the kind's section missing",
      classifierYaml("llm", ""),
      "error: classifier.llm: kind llm needs a classifier.llm section",
    ],
    [
      "both url and pool",
      EMB("    url: http://127.0.0.1:1/v1/embeddings\n    pool: small\n    model: m\n"),
      "error: classifier.embeddings: name the endpoint with url or pool (one of them)",
    ],
    [
      "an unknown pool",
      EMB("    pool: smal\n"),
      "error: classifier.embeddings.pool: unknown pool 'smal' (did you mean 'small'?)",
    ],
    [
      "url without model",
      EMB("    url: http://127.0.0.1:1/v1/embeddings\n"),
      "error: classifier.embeddings: model is required with url",
    ],
    [
      "an api key variable that is not set",
      EMB("    pool: small\n    api_key_env: NOPE_KEY\n"),
      "error: classifier.embeddings.api_key_env: environment variable NOPE_KEY is not set or empty",
    ],
    [
      "a timeout above Envoy's message timeout",
      EMB("    pool: small\n    timeout_ms: 2000\n"),
      "error: classifier.embeddings.timeout_ms: Too big: expected number to be <=1500",
    ],
    [
      "examples for an unknown label",
      EMB("    pool: small\n", "{ fast-path: [hi], hard: [x] }"),
      "error: classifier.embeddings.examples.hard: 'hard' is not a label; labels: fast-path, general, high-compute",
    ],
    [
      "a label without examples (warning)",
      EMB("    pool: small\n", "{ fast-path: [hi] }"),
      "warning: classifier.embeddings.examples: label 'high-compute' has no examples and is never chosen",
    ],
    [
      "an llm prompt without {{text}}",
      classifierYaml("llm", "  llm:\n    pool: small\n    prompt: classify this\n"),
      "error: classifier.llm.prompt: the prompt template must contain {{text}} (the request's text)",
    ],
    [
      "a section for another kind (warning)",
      `${HEUR}  llm: { pool: small }\n`,
      "warning: classifier.llm: classifier.llm is not used: kind is heuristic",
    ],
    [
      "an unknown key",
      HEUR.replace("fallback: general", "fallback: general\n  cach: { size: 5 }"),
      "error: classifier.cach: unknown key 'cach' (did you mean 'cache'?)",
    ],
  ];
  for (const [name, classifier, want] of cases) {
    test(name, () => {
      assert.ok(
        problems(policyWithClassifier(classifier)).includes(want),
        problems(policyWithClassifier(classifier)).join("\n"),
      );
    });
  }

  test("class: auto needs a classifier; 'auto' cannot be a class", () => {
    const noClassifier = policyWithClassifier("");
    assert.ok(
      problems(noClassifier).includes(
        "error: features.composer.class: class: auto needs a classifier section",
      ),
    );
    const autoClass = policyWithClassifier(HEUR)
      .replace("classes: [fast, balanced, frontier]", "classes: [fast, balanced, frontier, auto]")
      .replace("frontier: [{ large: 100 }]", "frontier: [{ large: 100 }]\n  auto: [{ large: 100 }]");
    assert.ok(
      problems(autoClass).includes(
        "error: classes: 'auto' is reserved: a feature with class: auto is labelled by the classifier",
      ),
      problems(autoClass).join("\n"),
    );
  });

  test("api_key_env set in the environment loads", () => {
    assert.ok(parsePolicy(policyWithClassifier(EMB("    pool: small\n    api_key_env: K\n")), { K: "v" }).ok);
  });
});
