// Stack G's server: the Go floor (bench/go-floor/main.go), built by the bench with the Go
// toolchain into .run/go-floor/ (modules as pinned in go.mod/go.sum, fetched the way the local
// `go` is set up to fetch them) and started with the answers bench/floor-answers.ts encodes, the
// same bytes the grpc-js floor sends.
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { type Proc, ROOT, type StartOptions, startProc } from "../devkit/processes.js";
import { floorAnswers } from "./floor-answers.js";

const SOURCE = join(ROOT, "bench", "go-floor");
const BINARY = join(ROOT, ".run", "go-floor", "go-floor");
/** A first build downloads grpc-go and compiles it; later ones come from Go's build cache. */
const BUILD_TIMEOUT_MS = 10 * 60_000;

/** `go build` of bench/go-floor; returns the binary's path. Fails with Go's own message. */
export async function buildGoFloor(): Promise<string> {
  await mkdir(join(ROOT, ".run", "go-floor"), { recursive: true });
  try {
    await promisify(execFile)("go", ["build", "-mod=readonly", "-buildvcs=false", "-o", BINARY, "."], {
      cwd: SOURCE,
      timeout: BUILD_TIMEOUT_MS,
    });
  } catch (err) {
    const e = err as Error & { code?: string; stderr?: string };
    if (e.code === "ENOENT") throw new Error("stack G needs the Go toolchain: `go` is not on PATH");
    throw new Error(`go build of bench/go-floor failed: ${e.stderr?.trim() || e.message}`);
  }
  return BINARY;
}

export interface GoFloorOptions extends StartOptions {
  binary: string;
  /** Where to write the encoded answers (the bench's temporary directory). */
  dir: string;
  grpcPort: number;
  httpPort: number;
  cluster: string;
  pool: string;
}

/** The Go floor (it answers /readyz once it listens). */
export async function startGoFloor(o: GoFloorOptions): Promise<Proc> {
  const answers = floorAnswers(o.cluster, o.pool);
  const headersFile = join(o.dir, "go-floor-headers-answer.pb");
  const bodyFile = join(o.dir, "go-floor-body-answer.pb");
  await writeFile(headersFile, answers.headers);
  await writeFile(bodyFile, answers.body);
  const args = [
    ...["--grpc-port", String(o.grpcPort), "--http-port", String(o.httpPort)],
    ...["--headers-answer", headersFile, "--body-answer", bodyFile],
  ];
  return startProc("Go floor ext_proc server", o.binary, args, o);
}
