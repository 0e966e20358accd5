// Vector arithmetic for the embeddings classifier: unit vectors, so cosine similarity is a dot
// product; label centroids; k nearest examples.

/** The vector scaled to length 1; undefined for a zero (or non-finite) vector. */
export function unit(v: readonly number[]): Float64Array | undefined {
  let sum = 0;
  for (const x of v) sum += x * x;
  const norm = Math.sqrt(sum);
  if (!(norm > 0) || !Number.isFinite(norm)) return undefined;
  const out = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = (v[i] as number) / norm;
  return out;
}

export function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

/** The normalised mean of unit vectors. */
export function centroid(vs: readonly Float64Array[]): Float64Array | undefined {
  const first = vs[0];
  if (first === undefined) return undefined;
  const sum = new Array<number>(first.length).fill(0);
  for (const v of vs) for (let i = 0; i < v.length; i++) sum[i] = (sum[i] as number) + (v[i] as number);
  return unit(sum);
}

export interface Scored {
  /** Index into the label list; undefined when nothing reached the threshold. */
  label: number | undefined;
  /** The best similarity per label (centroid: to its centroid; knn: its best neighbour). */
  scores: number[];
}

/** Nearest centroid; the winner must reach `threshold`. */
export function nearestCentroid(
  q: Float64Array,
  centroids: readonly (Float64Array | undefined)[],
  threshold: number,
): Scored {
  const scores = centroids.map((c) => (c === undefined ? Number.NEGATIVE_INFINITY : dot(q, c)));
  return pickBest(scores, scores, threshold);
}

/**
 * k nearest examples vote for their label with their similarity; the label with the largest vote
 * wins if its best neighbour reaches `threshold`.
 */
export function nearestNeighbours(
  q: Float64Array,
  examples: readonly { label: number; v: Float64Array }[],
  labels: number,
  k: number,
  threshold: number,
): Scored {
  const sims = examples.map((e) => ({ label: e.label, sim: dot(q, e.v) }));
  sims.sort((a, b) => b.sim - a.sim);
  const votes = new Array<number>(labels).fill(0);
  const best = new Array<number>(labels).fill(Number.NEGATIVE_INFINITY);
  for (const s of sims.slice(0, k)) {
    votes[s.label] = (votes[s.label] as number) + Math.max(s.sim, 0);
    if (s.sim > (best[s.label] as number)) best[s.label] = s.sim;
  }
  return pickBest(votes, best, threshold);
}

function pickBest(rank: readonly number[], sims: number[], threshold: number): Scored {
  let winner: number | undefined;
  rank.forEach((r, i) => {
    if (winner === undefined || r > (rank[winner] as number)) winner = i;
  });
  const ok = winner !== undefined && (sims[winner] as number) >= threshold;
  return { label: ok ? winner : undefined, scores: sims };
}
