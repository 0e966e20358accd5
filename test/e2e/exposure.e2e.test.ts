// Who can talk to the sidecar: its gRPC port listens on loopback, and a stream without the
// caller token that Envoy adds (from SWITCHYARD_GRPC_TOKEN) is refused UNAUTHENTICATED and
// counted, while Envoy's own streams go through. There is no access-log service to forge
// entries into: Envoy's access log is a file.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { waitFor } from "../../devkit/processes.js";
import { loadEnvoyServices } from "../../extproc/src/extproc/protos.js";
import { TOKEN_METADATA_KEY } from "../../extproc/src/vocab/names.js";
import { e2eFleet } from "./fleet.js";
import { chat, readFixture } from "./harness.js";
import { AI_BOT, logLine, useStack } from "./util.js";

type Call = grpc.ClientDuplexStream<object, object> | grpc.ClientWritableStream<object>;

/** Opens `method` of `service` on the sidecar with `token` (none when undefined); resolves with the call's status. */
function callStatus(
  port: number,
  service: grpc.ServiceDefinition,
  method: string,
  token: string | undefined,
): Promise<grpc.status> {
  const Client = grpc.makeGenericClientConstructor(service, "Sidecar");
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as Record<
    string,
    (md: grpc.Metadata, cb?: (err: grpc.ServiceError | null) => void) => Call
  >;
  const md = new grpc.Metadata();
  if (token !== undefined) md.set(TOKEN_METADATA_KEY, token);
  return new Promise((resolve) => {
    const done = (code: grpc.status) => {
      (client as unknown as grpc.Client).close();
      resolve(code);
    };
    const open = client[method] as (md: grpc.Metadata, cb?: (err: grpc.ServiceError | null) => void) => Call;
    // A client-streaming method takes a callback; a bidirectional one reports through "status".
    const call = open.call(client, md, (err) => done(err ? (err.code as grpc.status) : grpc.status.OK));
    call.on("status", (s: grpc.StatusObject) => done(s.code));
    call.on("error", () => {});
    call.write({});
    call.end();
  });
}

async function refusedCount(sidecarUrl: string, reason: string): Promise<number> {
  const text = await (await fetch(`${sidecarUrl}/metrics`)).text();
  const m = new RegExp(`^switchyard_grpc_refused_total\\{reason="${reason}"\\} (\\d+)`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

describe("exposure: the sidecar's gRPC port", () => {
  const stack = useStack(async () => ({ policy: await readFixture("e2e-policy.yml"), sims: e2eFleet() }));

  it("listens on loopback only", () => {
    assert.match(stack().switchyard.log(), /gRPC on 127\.0\.0\.1:\d+/);
  });

  it("refuses an ext_proc stream without the caller token, or with another one, and counts it", async () => {
    const s = stack();
    const port = s.endpoints[0]?.grpcPort as number;
    const { extProc } = loadEnvoyServices();
    assert.equal(await callStatus(port, extProc, "Process", undefined), grpc.status.UNAUTHENTICATED);
    assert.equal(await callStatus(port, extProc, "Process", "guess"), grpc.status.UNAUTHENTICATED);
    await waitFor("both refusals counted", async () => {
      return (
        (await refusedCount(s.sidecarUrl, "missing")) >= 1 && (await refusedCount(s.sidecarUrl, "wrong")) >= 1
      );
    });
    assert.match(s.switchyard.log(), /refused a gRPC stream with a missing caller token/);
  });

  it("Envoy's streams carry the token: requests are routed and logged", async () => {
    const s = stack();
    const r = await chat(s.url, { headers: { ...AI_BOT, "x-request-id": "exposure-ok" } });
    assert.equal(r.status, 200);
    assert.equal((await logLine(s, "exposure-ok")).status, 200);
  });

  it("offers no access-log service: a forged entry has nowhere to go, token or not", async () => {
    const s = stack();
    const port = s.endpoints[0]?.grpcPort as number;
    const { accessLog } = loadEnvoyServices();
    const token = s.callerToken === false ? undefined : s.callerToken;
    assert.equal(await callStatus(port, accessLog, "StreamAccessLogs", token), grpc.status.UNIMPLEMENTED);
    assert.equal(await callStatus(port, accessLog, "StreamAccessLogs", undefined), grpc.status.UNIMPLEMENTED);
  });
});
