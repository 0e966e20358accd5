// The bench's floor (stack F): an ext_proc + access-log server on the same Node.js and grpc-js
// as switchyard that does no work of its own. Its answers are encoded once at start and its
// messages are never decoded, so what Envoy F + this process cost is what any grpc-js sidecar
// pays for the protocol before it decides anything. Spawned by bench/dataplane-stack.ts:
//
//   node dist/bench/floor-extproc.js --grpc-port P --http-port Q --cluster swy.bench --pool bench
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { setHeaders } from "../extproc/src/extproc/messages.js";
import { loadEnvoyServices } from "../extproc/src/extproc/protos.js";
import { toStruct } from "../extproc/src/extproc/struct.js";
import { H, METADATA_NAMESPACE, UPSTREAM_NAMESPACE } from "../extproc/src/vocab/names.js";

const { values } = parseArgs({
  options: {
    "grpc-port": { type: "string" },
    "http-port": { type: "string" },
    cluster: { type: "string" },
    pool: { type: "string" },
  },
});
const { extProc, accessLog } = loadEnvoyServices();
const process_ = extProc.Process;
if (process_ === undefined) throw new Error("ExternalProcessor/Process missing from the loaded protos");

// The same route answer switchyard gives (route header, clear_route_cache, the pool the body is
// meant for, so Envoy skips the upstream filter), minus the body rewrite: the sims also serve
// the name the bench's client sends (dataplane-stack.ts, CLIENT_MODEL).
const headersAnswer = process_.responseSerialize({ request_headers: { response: {} } });
const bodyAnswer = process_.responseSerialize({
  request_body: {
    response: {
      clear_route_cache: true,
      header_mutation: { set_headers: setHeaders({ [H.cluster]: values.cluster ?? "" }) },
    },
  },
  dynamic_metadata: toStruct({
    [METADATA_NAMESPACE]: { class: "floor" },
    [UPSTREAM_NAMESPACE]: { adapted_for: values.pool ?? "", undo: { keys: [], members: "" } },
  }),
});

const identity = (b: Buffer) => b;
const raw = (def: grpc.ServiceDefinition): grpc.ServiceDefinition =>
  Object.fromEntries(
    Object.entries(def).map(([name, m]) => [
      name,
      { ...m, requestDeserialize: identity, responseSerialize: identity },
    ]),
  );

const server = new grpc.Server({ "grpc.max_receive_message_length": 512 * 1024 * 1024 });
server.addService(raw(extProc), {
  Process: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
    let seen = 0;
    call.on("data", () => {
      seen++;
      if (seen === 1) call.write(headersAnswer);
      else {
        call.write(bodyAnswer);
        call.end();
      }
    });
    call.on("end", () => call.end());
    call.on("error", () => {});
  },
});
server.addService(raw(accessLog), {
  StreamAccessLogs: (call: grpc.ServerReadableStream<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
    call.on("data", () => {});
    call.on("end", () => done(null, Buffer.alloc(0)));
    call.on("error", () => {});
  },
});
server.bindAsync(`127.0.0.1:${values["grpc-port"]}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) throw err;
});
// Envoy health-checks the sidecar's /readyz before it sends it anything.
createServer((_req, res) => res.end("ok")).listen(Number(values["http-port"]), "127.0.0.1");
