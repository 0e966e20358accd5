// docs/policy.md keeps up with the classifier: every kind, label source, fallback reason and
// classifier reason token is named there.
import assert from "node:assert/strict";
import { test } from "node:test";
import { readRepoFile } from "../../../test/fixtures/fixtures.js";
import { FALLBACK_REASONS, LABEL_SOURCES } from "../facts/types.js";
import { CLASSIFIER_KINDS } from "../policy/classifier.js";

test("docs/policy.md names every kind, label source, fallback reason and classifier reason token", () => {
  const doc = readRepoFile("docs/policy.md");
  for (const w of [...CLASSIFIER_KINDS, ...LABEL_SOURCES, ...FALLBACK_REASONS])
    assert.ok(doc.includes(`\`${w}\``), w);
  for (const t of ["label:<label>:<source>", "classify:<reason>", "label:none", "label:ignored"])
    assert.ok(doc.includes(`| \`${t}\``), t);
});
