// Every Prometheus metric switchyard exports, defined once. Label values are bounded:
// classes, pools and backends come from the policy, codes from errors.ts, statuses are
// HTTP codes; never request ids or free text.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { FastCounter } from "./fast-counter.js";
import { FastHistogram } from "./fast-histogram.js";

const LATENCY_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const m = {
    registry,
    // The request metrics are written once per request by the access-log path (observe/recorder.ts),
    // which keeps each labelled series: counters and histograms without prom-client's per-call label work.
    requests: new FastCounter(
      "switchyard_requests_total",
      "Finished requests by class, pool that served them, HTTP status and outcome (ok, rejected, client_error, error, upstream_reset_after_response, client_disconnected)",
      ["class", "pool", "status", "outcome"] as const,
      [registry],
    ),
    ttft: new FastHistogram(
      "switchyard_ttft_seconds",
      "Request arrival to the first byte from the backend",
      ["class", "pool", "backend"] as const,
      LATENCY_BUCKETS,
      [registry],
    ),
    duration: new FastHistogram(
      "switchyard_request_duration_seconds",
      "Request arrival to the last byte sent to the client",
      ["class", "pool", "backend"] as const,
      LATENCY_BUCKETS,
      [registry],
    ),
    attemptFailures: new FastCounter(
      "switchyard_attempt_failures_total",
      "Upstream attempts that failed, by backend and reason",
      ["backend", "reason"] as const,
      [registry],
    ),
    inFlight: new Gauge({
      name: "switchyard_in_flight_requests",
      help: "Requests active on a backend (Envoy's rq_active in its pool's cluster)",
      labelNames: ["pool", "backend"] as const,
      registers: [registry],
    }),
    backendHealthy: new Gauge({
      name: "switchyard_backend_healthy",
      help: "1 when Envoy considers the backend healthy in its pool's cluster, 0 when it is ejected or failing",
      labelNames: ["pool", "backend"] as const,
      registers: [registry],
    }),
    rejections: new FastCounter(
      "switchyard_rejections_total",
      "Requests answered with an error before any backend was tried, by error code",
      ["code"] as const,
      [registry],
    ),
    // Observed for every ext_proc message: a histogram without prom-client's per-call label work.
    extprocSeconds: new FastHistogram(
      "switchyard_extproc_processing_seconds",
      "Time switchyard spent on one ext_proc message, by phase (router, upstream)",
      ["phase"] as const,
      [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      [registry],
    ),
    policyReloads: new Counter({
      name: "switchyard_policy_reloads_total",
      help: "Policy reloads by result (applied; rejected: invalid policy or Envoy files not written)",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    logLinesDropped: new Counter({
      name: "switchyard_log_lines_dropped_total",
      help: "Request log lines not written: stdout too slow (backpressure) or failing (broken), or an access-log line that was not JSON (unreadable_entry)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    accessLogReader: new Gauge({
      name: "switchyard_access_log_reader",
      help: "1 while this sidecar holds the access-log reader lease (it writes the log lines and request metrics of every sidecar sharing the Envoy)",
      registers: [registry],
    }),
    accessLogLag: new Gauge({
      name: "switchyard_access_log_lag_bytes",
      help: "Bytes of Envoy's access log not read yet (reader only)",
      registers: [registry],
    }),
    grpcRefused: new Counter({
      name: "switchyard_grpc_refused_total",
      help: "gRPC streams refused for not carrying the caller token (reason: missing, wrong)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    extprocFaults: new Counter({
      name: "switchyard_extproc_faults_total",
      help: "Internal faults in ext_proc processing (answered with a JSON 500), by phase",
      labelNames: ["phase"] as const,
      registers: [registry],
    }),
    untrusted: new Counter({
      name: "switchyard_untrusted_requests_total",
      help: "Requests from callers the policy's trust section does not trust (their routing headers were ignored)",
      registers: [registry],
    }),
    classifierSeconds: new Histogram({
      name: "switchyard_classifier_seconds",
      help: "Time to a request's label, by classifier kind and label source (header, heuristic, embeddings, llm, cache, fallback)",
      labelNames: ["kind", "source"] as const,
      buckets: [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
      registers: [registry],
    }),
    classifierLabels: new Counter({
      name: "switchyard_classifier_labels_total",
      help: "Labels given by the classifier, by label and source",
      labelNames: ["label", "source"] as const,
      registers: [registry],
    }),
    classifierFallbacks: new Counter({
      name: "switchyard_classifier_fallbacks_total",
      help: "Requests that got the fallback label, by reason (no_text, no_match, below_threshold, not_ready, breaker_open, timeout, error, malformed)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    classifierCache: new Counter({
      name: "switchyard_classifier_cache_total",
      help: "Classifier cache lookups by result (hit, miss)",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    classifierCalls: new Counter({
      name: "switchyard_classifier_calls_total",
      help: "Calls to the classifier endpoint by kind and outcome (ok, below_threshold, timeout, error, malformed)",
      labelNames: ["kind", "outcome"] as const,
      registers: [registry],
    }),
    classifierBreaker: new Gauge({
      name: "switchyard_classifier_breaker_state",
      help: "The classifier endpoint's breaker: 1 for its current state (closed, open, half_open)",
      labelNames: ["state"] as const,
      registers: [registry],
    }),
    shed: new Counter({
      name: "switchyard_shed_requests_total",
      help: "Requests answered 503 overloaded (with Retry-After) before being decided, by reason",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    policyInfo: new Gauge({
      name: "switchyard_policy_info",
      help: "The loaded policy: 1 for its hash",
      labelNames: ["hash"] as const,
      registers: [registry],
    }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;

export function setPolicyInfo(m: Metrics, hash: string): void {
  m.policyInfo.reset();
  m.policyInfo.set({ hash }, 1);
}
