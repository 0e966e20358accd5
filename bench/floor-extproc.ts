// The bench's floor (stack F): an ext_proc + access-log server on the same Node.js and grpc-js
// as switchyard that does no work of its own. Its answers are encoded once at start and its
// messages are never decoded, so what Envoy F + this process cost is what any grpc-js sidecar
// pays for the protocol before it decides anything. Spawned by bench/dataplane-stack.ts:
//
//   node dist/bench/floor-extproc.js --grpc-port P --http-port Q --cluster swy.bench --pool bench
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { loadEnvoyServices } from "../extproc/src/extproc/protos.js";
import { floorAnswers } from "./floor-answers.js";

const { values } = parseArgs({
  options: {
    "grpc-port": { type: "string" },
    "http-port": { type: "string" },
    cluster: { type: "string" },
    pool: { type: "string" },
  },
});
const { extProc, accessLog } = loadEnvoyServices();
// Encoded once; bench/go-floor sends the same bytes.
const { headers: headersAnswer, body: bodyAnswer } = floorAnswers(values.cluster ?? "", values.pool ?? "");

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
// Exit on SIGTERM (the bench's stop) so that --cpu-prof (BENCH_CPU_PROF) writes its profile.
process.once("SIGTERM", () => process.exit(0));
// Envoy health-checks the sidecar's /readyz before it sends it anything.
createServer((_req, res) => res.end("ok")).listen(Number(values["http-port"]), "127.0.0.1");
