// CPU time and memory of the processes under test, from /proc (Linux only), and the
// machine they ran on.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { envoyBin } from "../devkit/processes.js";

let ticks: number | undefined;
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / clockTicks();
}

/** A `Vm*` line of /proc/PID/status, in MB (VmRSS: resident now; VmHWM: peak resident). */
export function vmMb(pid: number, key: "VmRSS" | "VmHWM"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Samples the resident size of some processes every `everyMs`, keeping the peak since `reset`. */
export class RssSampler {
  private readonly peaks = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;
  constructor(
    private readonly pids: number[],
    everyMs = 100,
  ) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
    this.sample();
  }
  private sample(): void {
    for (const pid of this.pids) {
      try {
        this.peaks.set(pid, Math.max(this.peaks.get(pid) ?? 0, vmMb(pid, "VmRSS")));
      } catch {
        // the process is gone; keep what was seen
      }
    }
  }
  /** Peak RSS in MB seen for `pid` since the last reset (sampling once more first). */
  peak(pid: number): number {
    this.sample();
    return this.peaks.get(pid) ?? 0;
  }
  reset(): void {
    this.peaks.clear();
    this.sample();
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

/** Node, CPU, Envoy version and load average, for the report's header. */
export function environment(): Record<string, string | number> {
  let envoy = "unknown";
  try {
    envoy =
      execFileSync(envoyBin(), ["--version"], { encoding: "utf8" }).match(/\/(\d+\.\d+\.\d+)\//)?.[1] ??
      envoy;
  } catch {
    // reported as unknown
  }
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpu: cpus()[0]?.model.trim() ?? "unknown cpu",
    cores: cpus().length,
    envoy,
    loadavg: loadavg()
      .map((l) => l.toFixed(2))
      .join(" "),
  };
}
