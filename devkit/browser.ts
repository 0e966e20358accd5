// A real headless browser for the e2e suite: Debian's Chromium (scripts/ensure-chromium.sh
// installs it), driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON
// messages separated by NUL on fds 3 and 4), so no WebSocket client and no npm package is
// needed. It collects console errors, uncaught exceptions and failed loads, evaluates
// expressions in the page and takes screenshots.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";

export function chromiumBin(): string {
  const fromEnv = process.env.CHROMIUM_BIN;
  if (fromEnv) return fromEnv;
  const found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
  if (!found)
    throw new Error("Chromium not found: run `bash scripts/ensure-chromium.sh` or set CHROMIUM_BIN");
  return found;
}

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  method: string;
}

export class Browser {
  /** Console errors, uncaught exceptions and failed loads, as text, in the order they came. */
  readonly problems: string[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private session = "";
  private buffered = "";
  private stderr = "";

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {
    const out = child.stdio[4] as Readable;
    out.setEncoding("utf8");
    out.on("data", (chunk: string) => this.onData(chunk));
    child.stderr?.on("data", (c: Buffer) => {
      this.stderr = (this.stderr + c.toString()).slice(-4000);
    });
    child.once("exit", (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`chromium exited (${code}): ${this.stderr}`));
      this.pending.clear();
    });
  }

  /** Starts headless Chromium with a laptop-sized window and one page attached. */
  static async launch(width = 1366, height = 768): Promise<Browser> {
    const dir = await mkdtemp(join(tmpdir(), "switchyard-chromium-"));
    const child = spawn(
      chromiumBin(),
      [
        "--headless=new",
        "--no-sandbox", // the e2e suite runs as root in CI
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--remote-debugging-pipe",
        `--user-data-dir=${dir}`,
        `--window-size=${width},${height}`,
        "about:blank",
      ],
      { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] },
    );
    const b = new Browser(child, dir);
    const { targetId } = (await b.send("Target.createTarget", { url: "about:blank" })) as {
      targetId: string;
    };
    const { sessionId } = (await b.send("Target.attachToTarget", { targetId, flatten: true })) as {
      sessionId: string;
    };
    b.session = sessionId;
    await b.send("Page.enable");
    await b.send("Runtime.enable");
    await b.send("Log.enable");
    await b.send("Network.enable");
    await b.send("Emulation.setDeviceMetricsOverride", {
      width,
      height,
      deviceScaleFactor: 1,
      mobile: false,
    });
    return b;
  }

  /** One DevTools command, on the page's session once there is one. */
  send(method: string, params: object = {}): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const msg: Record<string, unknown> = { id, method, params };
    if (this.session !== "") msg.sessionId = this.session;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      (this.child.stdio[3] as Writable).write(`${JSON.stringify(msg)}\0`);
    });
  }

  /** Navigates and waits for the load event. */
  async goto(url: string): Promise<void> {
    const loaded = new Promise<void>((resolve) => {
      this.onLoad = resolve;
    });
    const r = (await this.send("Page.navigate", { url })) as { errorText?: string };
    if (r.errorText) throw new Error(`navigating to ${url}: ${r.errorText}`);
    await loaded;
  }

  /** The value of a JavaScript expression in the page (awaited if it is a promise). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = (await this.send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    })) as {
      result: { value?: unknown };
      exceptionDetails?: { text?: string; exception?: { description?: string } };
    };
    if (r.exceptionDetails)
      throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** A PNG of the viewport. */
  async screenshot(): Promise<Buffer> {
    const r = (await this.send("Page.captureScreenshot", { format: "png" })) as { data: string };
    return Buffer.from(r.data, "base64");
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once("exit", r));
      this.child.kill("SIGTERM");
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  private onLoad: () => void = () => {};

  private onData(chunk: string): void {
    this.buffered += chunk;
    let end = this.buffered.indexOf("\0");
    while (end >= 0) {
      const text = this.buffered.slice(0, end);
      this.buffered = this.buffered.slice(end + 1);
      this.onMessage(JSON.parse(text) as Record<string, unknown>);
      end = this.buffered.indexOf("\0");
    }
  }

  private onMessage(m: Record<string, unknown>): void {
    if (typeof m.id === "number") {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      const err = m.error as { message?: string } | undefined;
      if (err) p?.reject(new Error(`${p.method}: ${err.message}`));
      else p?.resolve((m.result ?? {}) as Record<string, unknown>);
      return;
    }
    const params = (m.params ?? {}) as Record<string, unknown>;
    switch (m.method) {
      case "Page.loadEventFired":
        this.onLoad();
        return;
      case "Runtime.consoleAPICalled": {
        if (params.type !== "error" && params.type !== "assert") return;
        const args = (params.args as { value?: unknown; description?: string }[]) ?? [];
        this.problems.push(`console.${params.type}: ${args.map((a) => a.value ?? a.description).join(" ")}`);
        return;
      }
      case "Runtime.exceptionThrown": {
        const d = params.exceptionDetails as { text?: string; exception?: { description?: string } };
        this.problems.push(`exception: ${d.exception?.description ?? d.text}`);
        return;
      }
      case "Log.entryAdded": {
        const e = params.entry as { level?: string; text?: string; url?: string };
        if (e.level === "error") this.problems.push(`log: ${e.text}${e.url ? ` (${e.url})` : ""}`);
        return;
      }
      case "Network.loadingFailed":
        this.problems.push(`network: ${String(params.errorText)}`);
        return;
      default:
        return;
    }
  }
}
