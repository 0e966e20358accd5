// The data-plane bench's report: the numbers of the four stacks side by side and, at the end,
// issue 15's targets marked met or not (dataplane-targets.ts). Printed as tables and also kept
// as one JSON document (.run/bench-dataplane.json).
import { bySide, type Side } from "./dataplane-config.js";
import { TARGETS, type Verdict } from "./dataplane-targets.js";

/** One stack's latency: the median over its segments of each segment's p50 and p99, and all samples. */
export interface Dist {
  n: number;
  p50: number;
  p99: number;
}

export interface LatencyRow {
  body: string;
  stream: boolean;
  /** The fixed rate (requests/s) and each segment's length. */
  rate: number;
  segmentMs: number;
  /** "end" = the whole response; "first byte" = the first body byte (streams only). */
  metric: "end" | "first byte";
  dist: Record<Side, Dist>;
  /** Requests per second actually sent (open loop), and failures, per stack. */
  achieved: Record<Side, number>;
  errors: Record<Side, number>;
  skipped: Record<Side, number>;
  errorSamples: string[];
  /** A sent the whole rate with no error and no skipped request. */
  heldByA: boolean;
}

export interface ThroughputRow {
  body: string;
  stream: boolean;
  concurrency: number;
  /** Successful responses per second, each stack's median segment. */
  rate: Record<Side, number>;
  errors: Record<Side, number>;
  errorSamples: string[];
}

export interface CostRow {
  phase: string;
  /** A closed-loop (throughput) phase: the machine is CPU-bound, so CPU shares bound the ratios. */
  closedLoop: boolean;
  /** Requests each stack completed in the phase. */
  requests: Record<Side, number>;
  /**
   * CPU ms per request, each stack's median segment: its ext_proc server (switchyard, the
   * grpc-js floor, the Go floor; none for B), its Envoy, and everything the request touched
   * (server + Envoy + sims + load generator).
   */
  serverMs: Record<Side, number>;
  envoyMs: Record<Side, number>;
  allMs: Record<Side, number>;
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
  verdicts: Verdict[];
  notes: string[];
}

const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : "-");
const signed = (n: number, d = 2) => (!Number.isFinite(n) ? "-" : n >= 0 ? `+${f(n, d)}` : f(n, d));
const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-");
const pct = (n: number) => (Number.isFinite(n) ? `${f(n * 100, 1)} %` : "-");
const verdict = (met: boolean | null) => (met === null ? "n/a" : met ? "MET" : "MISSED");
/** One value per stack in the order A|B|F|G. */
const perStack = (v: Record<Side, number>, fmt: (n: number) => string) =>
  (["a", "b", "f", "g"] as Side[]).map((s) => fmt(v[s])).join("|");

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

/** What ran where: the machine, the four stacks, the sims and the load generator. */
function headerSection(r: Report): string[] {
  const env = r.environment;
  return [
    "switchyard data-plane bench (a report, not a test; timings on a shared machine are noisy)",
    `node ${env.node}, ${env.platform}, ${env.cpu} x${env.cores}, Envoy ${env.envoy}, load average at start ${env.loadavg}`,
    "A = client → Envoy + switchyard ext_proc (router + upstream) → 2 sims",
    "B = client → Envoy alone (no ext_proc, static LEAST_REQUEST cluster) → the same 2 sims",
    "F = the grpc-js floor: A's Envoy config and xDS, but the ext_proc and access-log server is a do-nothing",
    "    grpc-js process (bench/floor-extproc.ts: answers encoded once, messages never decoded, no decision, no log)",
    "G = the Go floor: F's Envoy config, the server a do-nothing Go program (bench/go-floor: grpc-go, raw bytes,",
    "    the same encoded answers as F)",
    `sims: ${r.setup.sims}; load generator: ${r.setup.loadgen}; ${r.setup.design}`,
    `model: ${r.setup.clientModel}`,
    "",
  ];
}

const dist = (d: Dist) => `${f(d.p50)}/${f(d.p99)}`;

/** Latency at the fixed rates, each stack's p50/p99, A against F and B. */
function latencySection(r: Report): string[] {
  if (r.latency.length === 0) return [];
  return [
    "Latency at fixed rates (open loop; ms from the request write; p50/p99, each the median of the stack's segments)",
    "(sent/s below the rate or a non-zero err count means that stack could not keep up)",
    table(
      [
        "body",
        "mode",
        "rate",
        "measure",
        "B",
        "F",
        "G",
        "A",
        "A-F p50/p99",
        "A-B p50/p99",
        "F-B p50",
        "G-B p50",
        "sent/s A|B|F|G",
        "err A|B|F|G",
      ],
      r.latency.map((l) => [
        l.body,
        mode(l.stream),
        `${l.rate}/s`,
        l.metric,
        dist(l.dist.b),
        dist(l.dist.f),
        dist(l.dist.g),
        dist(l.dist.a),
        `${signed(l.dist.a.p50 - l.dist.f.p50)}/${signed(l.dist.a.p99 - l.dist.f.p99)}`,
        `${signed(l.dist.a.p50 - l.dist.b.p50)}/${signed(l.dist.a.p99 - l.dist.b.p99)}`,
        signed(l.dist.f.p50 - l.dist.b.p50),
        signed(l.dist.g.p50 - l.dist.b.p50),
        perStack(l.achieved, int),
        perStack(
          bySide((s) => l.errors[s] + l.skipped[s]),
          String,
        ),
      ]),
      ["l", "l", "r", "l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r"],
    ),
    "",
  ];
}

/** Maximum throughput, closed loop. */
function throughputSection(r: Report): string[] {
  if (r.throughput.length === 0) return [];
  return [
    "Maximum throughput (closed loop; successful responses per second, each stack's median segment)",
    table(
      ["body", "mode", "conns", "B", "F", "G", "A", "A/F", "A/G", "A/B", "F/B", "G/B", "err A|B|F|G"],
      r.throughput.map((t) => [
        t.body,
        mode(t.stream),
        String(t.concurrency),
        int(t.rate.b),
        int(t.rate.f),
        int(t.rate.g),
        int(t.rate.a),
        pct(t.rate.a / t.rate.f),
        pct(t.rate.a / t.rate.g),
        pct(t.rate.a / t.rate.b),
        pct(t.rate.f / t.rate.b),
        pct(t.rate.g / t.rate.b),
        perStack(t.errors, String),
      ]),
      ["l", "l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r"],
    ),
    "",
  ];
}

/** CPU per request of each stack's processes, per phase. */
function costSection(r: Report): string[] {
  const ms3 = (n: number) => f(n, 3);
  const out = [
    "CPU per request (ms; utime + stime from /proc; each stack's median segment)",
    table(
      ["phase", "server A|F|G", "A/F", "Envoy A|B|F|G", "all A|B|F|G", "sidecar peak RSS MB"],
      r.cost.map((c) => [
        c.phase,
        [c.serverMs.a, c.serverMs.f, c.serverMs.g].map(ms3).join("|"),
        `${f(c.serverMs.a / c.serverMs.f)}×`,
        perStack(c.envoyMs, ms3),
        perStack(c.allMs, ms3),
        f(c.sidecarPeakRssMb, 1),
      ]),
      ["l", "r", "r", "r", "r", "r"],
    ),
    "(server = switchyard, the grpc-js floor, the Go floor; all = server + Envoy + sims + load generator:",
    " on a CPU-bound machine throughput ratios ≈ inverse ratios of 'all')",
  ];
  for (const c of r.cost) {
    const free = c.allMs.a - c.serverMs.a;
    if (!c.closedLoop || !(free > 0)) continue;
    out.push(
      `${c.phase}: a sidecar that cost no CPU at all would leave A at ${f(free, 3)} ms/request, ` +
        `so A/B ≤ ${f((100 * c.allMs.b) / free, 1)} % here (Envoy's own ext_proc and access-log work)`,
    );
  }
  out.push(
    `sidecar RSS: ${f(r.sidecarStartRssMb, 1)} MB after start, ${f(r.sidecarPeakRssMb, 1)} MB peak over the whole run (VmHWM)`,
    "",
  );
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
  out.push(`finished in ${f(r.durationS, 0)} s`, "");
  out.push("Targets (issue 15; ratios from this run, each stack's median segment; n/a = not measured)");
  const width = Math.max(...r.verdicts.map((v) => v.name.length));
  for (const v of r.verdicts) out.push(`  ${verdict(v.met).padEnd(6)}  ${v.name.padEnd(width)}  ${v.value}`);
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
