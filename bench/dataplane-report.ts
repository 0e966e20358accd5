// The data-plane bench's report: the numbers, the targets beside them, MET / MISSED.
// Printed as tables and also kept as one JSON document (.run/bench-dataplane.json).

export const TARGETS = {
  addedP50Ms: 0.5,
  addedP99Ms: 2,
  /** Throughput with switchyard as a share of Envoy alone. */
  throughputRatio: 0.6,
  holdRssMb: 200,
} as const;

export interface Dist {
  n: number;
  p50: number;
  p99: number;
}

export interface LatencyRow {
  body: string;
  stream: boolean;
  /** "end" = the whole response; "first byte" = the first body byte (streams only). */
  metric: "end" | "first byte";
  a: Dist;
  b: Dist;
  addedP50: number;
  addedP99: number;
  /** The floor (Envoy + a do-nothing grpc-js ext_proc server) and what it adds over B. */
  f: Dist;
  floorAddedP50: number;
  floorAddedP99: number;
  /** Requests per second actually sent (open loop), and failures, per stack. */
  achieved: { a: number; b: number; f: number };
  errors: { a: number; b: number; f: number };
  skipped: { a: number; b: number; f: number };
  errorSamples: string[];
  /** Only the 2 KB rows carry the latency target. */
  met: boolean | null;
}

export interface ThroughputRow {
  body: string;
  stream: boolean;
  concurrency: number;
  a: number;
  b: number;
  ratio: number;
  /** The floor's throughput and its share of B: the best any grpc-js sidecar could do here. */
  f: number;
  floorRatio: number;
  errors: { a: number; b: number; f: number };
  errorSamples: string[];
  met: boolean;
}

export interface CostRow {
  phase: string;
  /** A closed-loop (throughput) phase: the machine is CPU-bound, so CPU shares bound A/B. */
  closedLoop: boolean;
  /** Requests stack A completed in the phase. */
  requests: number;
  sidecarCpuS: number;
  sidecarCpuPer1k: number;
  envoyACpuPer1k: number;
  /** Envoy alone's CPU per 1,000 of its own requests in the matching B runs. */
  envoyBCpuPer1k: number;
  /** Everything the request touched on this machine (sidecar, Envoy, sims, load generator). */
  totalACpuPer1k: number;
  totalBCpuPer1k: number;
  /** The floor server, Envoy F and all of stack F, per 1,000 of F's requests. */
  floorCpuPer1k: number;
  envoyFCpuPer1k: number;
  totalFCpuPer1k: number;
  sidecarPeakRssMb: number;
}

export interface HoldReport {
  requested: number;
  opened: number;
  firstBytes: number;
  errors: number;
  allFirstBytesMs: number;
  sidecarRssBeforeMb: number;
  sidecarRssMb: number;
  envoyARssMb: number;
  extProcStreamsOpen: { router: number; upstream: number } | null;
  simOpen: number;
  simOpenAfterAbort: number;
  errorSamples: string[];
  met: boolean;
}

export interface Report {
  startedAt: string;
  durationS: number;
  environment: Record<string, string | number>;
  setup: Record<string, string | number | boolean>;
  targets: typeof TARGETS;
  latency: LatencyRow[];
  throughput: ThroughputRow[];
  cost: CostRow[];
  sidecarStartRssMb: number;
  sidecarPeakRssMb: number;
  loadgenMaxSendLagMs: number;
  hold: HoldReport | null;
  /** Envoy A's counters for the ext_proc gRPC channel over the whole run, and B's 5xx. */
  channel: { envoyA: Record<string, number>; envoyBDownstream5xx: number };
  verdicts: { name: string; met: boolean }[];
  notes: string[];
}

const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : "-");
const signed = (n: number, d = 2) => (n >= 0 ? `+${f(n, d)}` : f(n, d));
const int = (n: number) => Math.round(n).toLocaleString("en-US");
const verdict = (met: boolean | null) => (met === null ? "" : met ? "MET" : "MISSED");

function table(head: string[], rows: string[][], align: ("l" | "r")[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (align[i] === "l" ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join("  ")
      .trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

const mode = (stream: boolean) => (stream ? "stream" : "json");

/** What ran where: the machine, the three stacks, the sims and the load generator. */
function headerSection(r: Report): string[] {
  const env = r.environment;
  return [
    "switchyard data-plane bench (a report, not a test; timings on a shared machine are noisy)",
    `node ${env.node}, ${env.platform}, ${env.cpu} x${env.cores}, Envoy ${env.envoy}, load average at start ${env.loadavg}`,
    "A = client → Envoy + switchyard ext_proc (router + upstream) → 2 sims",
    "B = client → Envoy alone (no ext_proc, static LEAST_REQUEST cluster) → the same 2 sims",
    "F = the floor: A's Envoy config and xDS, but the ext_proc and access-log server is a do-nothing grpc-js",
    "    process (bench/floor-extproc.ts: answers encoded once, messages never decoded, no decision, no log)",
    `sims: ${r.setup.sims}; load generator: ${r.setup.loadgen}; ${r.setup.design}`,
    `model: ${r.setup.clientModel}`,
    "",
  ];
}

/** Added latency at a fixed rate, A and F against B. */
function latencySection(r: Report): string[] {
  return [
    `Added latency at ${r.setup.rate} requests/s (open loop; ms from the request write; + = A minus B)`,
    "(sent/s below the rate or a non-zero err count means that stack could not keep up)",
    table(
      [
        "body",
        "mode",
        "measure",
        "B p50",
        "B p99",
        "A p50",
        "A p99",
        "+p50",
        "+p99",
        "F +p50",
        "F +p99",
        "sent/s A|B|F",
        "err A|B|F",
        "target",
        "",
      ],
      r.latency.map((l) => [
        l.body,
        mode(l.stream),
        l.metric,
        f(l.b.p50),
        f(l.b.p99),
        f(l.a.p50),
        f(l.a.p99),
        signed(l.addedP50),
        signed(l.addedP99),
        signed(l.floorAddedP50),
        signed(l.floorAddedP99),
        `${int(l.achieved.a)}|${int(l.achieved.b)}|${int(l.achieved.f)}`,
        `${l.errors.a + l.skipped.a}|${l.errors.b + l.skipped.b}|${l.errors.f + l.skipped.f}`,
        l.met === null ? "-" : `+p50 ≤ ${TARGETS.addedP50Ms}, +p99 ≤ ${TARGETS.addedP99Ms}`,
        verdict(l.met),
      ]),
      ["l", "l", "l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "l", "l"],
    ),
    "(F +p50/+p99 = the floor minus B: what the ext_proc exchange costs before switchyard does anything)",
    "",
  ];
}

/** Maximum throughput, closed loop. */
function throughputSection(r: Report): string[] {
  return [
    "Maximum throughput (closed loop; successful responses per second)",
    table(
      ["body", "mode", "conns", "B req/s", "A req/s", "A/B", "F req/s", "F/B", "err A|B|F", "target", ""],
      r.throughput.map((t) => [
        t.body,
        mode(t.stream),
        String(t.concurrency),
        int(t.b),
        int(t.a),
        `${f(t.ratio * 100, 1)} %`,
        int(t.f),
        `${f(t.floorRatio * 100, 1)} %`,
        `${t.errors.a}|${t.errors.b}|${t.errors.f}`,
        `≥ ${TARGETS.throughputRatio * 100} %`,
        verdict(t.met),
      ]),
      ["l", "l", "r", "r", "r", "r", "r", "r", "r", "l", "l"],
    ),
    "",
  ];
}

/** CPU per 1,000 requests and RSS of the sidecar, per phase. */
function costSection(r: Report): string[] {
  const out: string[] = [];
  out.push(
    "Sidecar cost (switchyard process; CPU = utime + stime from /proc; per 1,000 requests of stack A)",
  );
  out.push(
    table(
      [
        "phase",
        "A requests",
        "sidecar CPU s",
        "sidecar s/1k",
        "Envoy A s/1k",
        "Envoy B s/1k",
        "all A s/1k",
        "all B s/1k",
        "floor s/1k",
        "Envoy F s/1k",
        "all F s/1k",
        "sidecar peak RSS MB",
      ],
      r.cost.map((c) => [
        c.phase,
        int(c.requests),
        f(c.sidecarCpuS),
        f(c.sidecarCpuPer1k, 3),
        f(c.envoyACpuPer1k, 3),
        f(c.envoyBCpuPer1k, 3),
        f(c.totalACpuPer1k, 3),
        f(c.totalBCpuPer1k, 3),
        f(c.floorCpuPer1k, 3),
        f(c.envoyFCpuPer1k, 3),
        f(c.totalFCpuPer1k, 3),
        f(c.sidecarPeakRssMb, 1),
      ]),
      ["l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r"],
    ),
  );
  out.push(
    "(all = sidecar + Envoy + sims + load generator: on a CPU-bound machine A/B throughput ≈ all B / all A)",
  );
  for (const c of r.cost) {
    const free = c.totalACpuPer1k - c.sidecarCpuPer1k;
    if (!c.closedLoop || !(free > 0)) continue;
    out.push(
      `${c.phase}: a sidecar that cost no CPU at all would leave A at ${f(free, 3)} s/1k, ` +
        `so A/B ≤ ${f((100 * c.totalBCpuPer1k) / free, 1)} % here (Envoy's own ext_proc and access-log work)`,
    );
  }
  out.push(
    `sidecar RSS: ${f(r.sidecarStartRssMb, 1)} MB after start, ${f(r.sidecarPeakRssMb, 1)} MB peak over the whole run (VmHWM)`,
  );
  out.push("");
  return out;
}

/** Many concurrent open SSE responses through A. */
function holdSection(r: Report): string[] {
  const h = r.hold;
  if (!h) return [];
  const out: string[] = [];
  out.push(`${int(h.requested)} concurrent open SSE responses through A (slow sims: ${r.setup.holdSims})`);
  out.push(
    table(
      ["measure", "value", "target", ""],
      [
        [
          "streams with their first byte",
          `${int(h.firstBytes)} / ${int(h.requested)} (errors ${h.errors})`,
          "",
          "",
        ],
        ["time until all first bytes", `${int(h.allFirstBytesMs)} ms`, "", ""],
        ["sidecar RSS before", `${f(h.sidecarRssBeforeMb, 1)} MB`, "", ""],
        [
          "sidecar RSS with the streams open",
          `${f(h.sidecarRssMb, 1)} MB`,
          `≤ ${TARGETS.holdRssMb} MB`,
          verdict(h.met),
        ],
        [
          "open ext_proc gRPC streams (/debug/streams)",
          h.extProcStreamsOpen
            ? `router ${h.extProcStreamsOpen.router}, upstream ${h.extProcStreamsOpen.upstream}`
            : "unavailable",
          "0",
          "",
        ],
        ["sims' open responses", `${int(h.simOpen)} (after abort: ${int(h.simOpenAfterAbort)})`, "", ""],
        ["Envoy A RSS", `${f(h.envoyARssMb, 1)} MB`, "", ""],
      ],
      ["l", "r", "l", "l"],
    ),
  );
  if (h.errorSamples.length > 0) out.push(`errors: ${h.errorSamples.join(" | ")}`);
  out.push("");
  return out;
}

/** Envoy A's counters of the ext_proc gRPC channel. */
function channelSection(r: Report): string[] {
  const ch = r.channel.envoyA;
  if (Object.keys(ch).length === 0) return [];
  const c = (k: string) => ch[k] ?? 0;
  const out: string[] = [];
  out.push("ext_proc channel, Envoy A counters over the whole run");
  out.push(
    `  gRPC connections to switchyard opened ${int(c("cluster.switchyard_grpc.upstream_cx_total"))}, ` +
      `closed on protocol error ${int(c("cluster.switchyard_grpc.upstream_cx_protocol_error"))}; ` +
      `streams ${int(c("cluster.switchyard_grpc.upstream_rq_total"))}, reset by Envoy ${int(c("cluster.switchyard_grpc.http2.tx_reset"))}, ` +
      `failed ${int(c("cluster.switchyard_grpc.upstream_rq_5xx"))}; ext_proc message timeouts ${int(c("http.llm.ext_proc.message_timeouts"))}`,
  );
  out.push(
    `  client responses 5xx: A ${int(c("http.llm.downstream_rq_5xx"))} of ${int(c("http.llm.downstream_rq_total"))}, B ${int(r.channel.envoyBDownstream5xx)}`,
  );
  if (c("cluster.switchyard_grpc.upstream_cx_protocol_error") > 0) {
    out.push(
      "  (Envoy resets each ext_proc stream after switchyard ends it; Node's HTTP/2 server (nghttp2 ≥ 1.57) answers",
      "   more than ~1,000 received resets on one connection (+33/s) with GOAWAY; bootstrap.ts caps each connection",
      "   at 500 streams so that never happens: 'failed' above should be 0)",
    );
  }
  out.push("");
  return out;
}

/** Error samples, the load generator's own lag, notes and the verdicts. */
function footerSection(r: Report): string[] {
  const out: string[] = [];
  const samples = [...r.latency, ...r.throughput].flatMap((x) => x.errorSamples);
  if (samples.length > 0) out.push(`error samples: ${[...new Set(samples)].slice(0, 6).join(" | ")}`);
  out.push(
    `load generator: its own send lag p99 was at most ${f(r.loadgenMaxSendLagMs, 1)} ms per segment ` +
      "(latency is timed from the actual write, so this lag is not in the numbers above)",
  );
  for (const n of r.notes) out.push(`note: ${n}`);
  out.push("");
  out.push("Targets");
  for (const v of r.verdicts) out.push(`  ${verdict(v.met).padEnd(6)}  ${v.name}`);
  out.push(`finished in ${f(r.durationS, 0)} s`);
  return out;
}

export function formatReport(r: Report): string {
  return [
    ...headerSection(r),
    ...latencySection(r),
    ...throughputSection(r),
    ...costSection(r),
    ...holdSection(r),
    ...channelSection(r),
    ...footerSection(r),
  ].join("\n");
}

export function verdicts(r: Omit<Report, "verdicts">): Report["verdicts"] {
  const v: Report["verdicts"] = [];
  for (const l of r.latency) {
    if (l.met === null) continue;
    v.push({
      name: `added latency ${l.body} ${mode(l.stream)} (${l.metric}) at ${r.setup.rate}/s: p50 ≤ ${TARGETS.addedP50Ms} ms and p99 ≤ ${TARGETS.addedP99Ms} ms`,
      met: l.met,
    });
  }
  for (const t of r.throughput) {
    v.push({
      name: `throughput ${t.body} ${mode(t.stream)}: A ≥ ${TARGETS.throughputRatio * 100} % of B`,
      met: t.met,
    });
  }
  if (r.hold) {
    v.push({
      name: `sidecar RSS ≤ ${TARGETS.holdRssMb} MB with ${r.hold.requested} open streams`,
      met: r.hold.met,
    });
  }
  return v;
}
