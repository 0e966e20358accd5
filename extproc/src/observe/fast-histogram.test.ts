// FastHistogram prints exactly what prom-client's Histogram prints for the same observations.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Histogram, Registry } from "prom-client";
import { FastHistogram } from "./fast-histogram.js";

const BOUNDS = [0.001, 0.01, 0.1];
const VALUES: [string, number][] = [
  ["router", 0.0005],
  ["router", 0.001], // on a bound: that bucket
  ["router", 0.05],
  ["router", 7],
  ["upstream", 0.01],
];

test("the same exposition text as prom-client's Histogram; reset empties it", async () => {
  const theirs = new Registry();
  const ours = new Registry();
  const h = new Histogram({
    name: "x_seconds",
    help: "h",
    labelNames: ["phase"],
    buckets: BOUNDS,
    registers: [theirs],
  });
  const f = new FastHistogram("x_seconds", "h", ["phase"] as const, BOUNDS, [ours]);
  const series = { router: f.labels({ phase: "router" }), upstream: f.labels({ phase: "upstream" }) };
  f.labels({ phase: "unused" });
  for (const [phase, v] of VALUES) {
    h.labels({ phase }).observe(v);
    series[phase as "router" | "upstream"].observe(v);
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
  assert.throws(() => series.router.observe(Number.NaN), /not a valid number/);
  theirs.resetMetrics();
  ours.resetMetrics();
  assert.equal(await ours.metrics(), await theirs.metrics());
});
