// The access-log path's front: the reader lease, then the file from where the last reader
// stopped, each line joined (attempts) and recorded (log line, metrics, windows). Of the
// sidecars sharing one Envoy, the one holding the lease writes every request's log line;
// when it stops or dies, another takes over from its position. Until a sidecar holds the
// lease it follows the file from its end and only observes (fleet windows, breakers), so
// every sidecar's decisions see the whole fleet.
import type { Metrics } from "../observe/metrics.js";
import { AccessLogTail } from "../telemetry/access-log-tail.js";
import { AccessLogJoiner, type RequestRecord } from "../telemetry/attempts.js";
import { ReaderLease } from "../telemetry/reader-lease.js";

export interface ReaderOptions {
  file: string;
  joiner: AccessLogJoiner;
  record: (r: RequestRecord) => void;
  /** A request's samples only (a sidecar without the lease). */
  observe: (r: RequestRecord) => void;
  /** A backend address's pool (for the follower's own attempt joins). */
  poolOf: (backend: string) => string | undefined;
  /** Resolves once the log lines recorded so far are out. */
  written: () => Promise<void>;
  metrics: Metrics;
  /** Envoy's admin URL, for /reopen_logs after a rotation. */
  envoyAdmin: string;
  rotateBytes: number;
  log: (msg: string) => void;
}

export interface AccessLogReader {
  /** Stops reading (position saved), then gives the lease up. */
  stop(): Promise<void>;
}

export function startAccessLogReader(o: ReaderOptions): AccessLogReader {
  const lease = ReaderLease.forFile(o.file);
  const tail = new AccessLogTail({
    file: o.file,
    onEntry: (entry) => {
      const record = o.joiner.onEntry(entry);
      if (record) o.record(record);
    },
    onBadLine: () => o.metrics.logLinesDropped.inc({ reason: "unreadable_entry" }),
    settled: o.written,
    reopen: async () => {
      const res = await fetch(`${o.envoyAdmin}/reopen_logs`, { method: "POST" });
      if (!res.ok) throw new Error(`admin /reopen_logs answered ${res.status}`);
    },
    rotateBytes: o.rotateBytes,
    log: o.log,
    onLag: (bytes) => o.metrics.accessLogLag.set(bytes),
  });
  const followJoiner = new AccessLogJoiner(o.poolOf);
  const follower = new AccessLogTail({
    file: o.file,
    follow: true,
    onEntry: (entry) => {
      const record = followJoiner.onEntry(entry);
      if (record) o.observe(record);
    },
    onBadLine: () => {},
    settled: async () => {},
    reopen: async () => {},
    rotateBytes: Number.POSITIVE_INFINITY,
    log: o.log,
  });
  follower.start();
  const acquired = lease.acquire().then(
    async (held) => {
      await follower.stop();
      followJoiner.close();
      if (!held) return false;
      o.metrics.accessLogReader.set(1);
      o.log(`reading Envoy's access log ${o.file}`);
      tail.start();
      return true;
    },
    (err: Error) => {
      o.log(`access log: cannot take the reader lease (${err.message}); this sidecar writes no log lines`);
      return false;
    },
  );
  return {
    async stop() {
      lease.cancel();
      if (await acquired) await tail.stop();
      await follower.stop();
      await lease.release();
      o.metrics.accessLogReader.set(0);
    },
  };
}
