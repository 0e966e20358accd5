// Loads the Envoy service definitions from @grpc/grpc-js-xds's deps/ (see protos/README.md).
//
// The ext_proc messages skip proto-loader's object conversion: a request is protobufjs's
// decoded message as it is (unset fields read as their defaults), and a response is encoded
// straight from the plain object the processors build (enums as numbers, messages.ts). Their
// toObject/fromObject walk of every message cost more than the decoding and encoding.
import { accessSync, constants } from "node:fs";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";
import type { ProcessingRequest, ProcessingResponse } from "./messages.js";

const require = createRequire(import.meta.url);

export interface EnvoyServices {
  extProc: grpc.ServiceDefinition;
  accessLog: grpc.ServiceDefinition;
}

const FILES = ["envoy/service/ext_proc/v3/external_processor.proto", "envoy/service/accesslog/v3/als.proto"];
const EXT_PROC = "envoy.service.ext_proc.v3";

let cached: EnvoyServices | undefined;

function includeDirs(): string[] {
  const deps = join(dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");
  return ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => join(deps, d));
}

/** The same files and include path as proto-loader, as a protobufjs root (its well-known types too). */
function loadRoot(dirs: string[]): protobuf.Root {
  const root = new protobuf.Root();
  const fallback = root.resolvePath.bind(root);
  root.resolvePath = (origin, target) => {
    if (isAbsolute(target)) return target;
    for (const dir of dirs) {
      const full = join(dir, target);
      try {
        accessSync(full, constants.R_OK);
        return full;
      } catch {}
    }
    return fallback(origin, target);
  };
  root.loadSync(FILES, { keepCase: true });
  root.resolveAll();
  return root;
}

/** ExternalProcessor/Process with protobufjs's own decode and encode for both message types. */
function directCodec(def: grpc.ServiceDefinition, root: protobuf.Root): grpc.ServiceDefinition {
  const request = root.lookupType(`${EXT_PROC}.ProcessingRequest`);
  const response = root.lookupType(`${EXT_PROC}.ProcessingResponse`);
  const process_ = def.Process as grpc.MethodDefinition<ProcessingRequest, ProcessingResponse>;
  return {
    ...def,
    Process: {
      ...process_,
      requestSerialize: (m: ProcessingRequest) => request.encode(m as protobuf.Message).finish() as Buffer,
      requestDeserialize: (b: Buffer) => request.decode(b) as unknown as ProcessingRequest,
      responseSerialize: (m: ProcessingResponse) => response.encode(m as protobuf.Message).finish() as Buffer,
      responseDeserialize: (b: Buffer) => response.decode(b) as unknown as ProcessingResponse,
    },
  };
}

export function loadEnvoyServices(): EnvoyServices {
  if (cached) return cached;
  const dirs = includeDirs();
  const def = protoLoader.loadSync(FILES, {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: false,
    oneofs: true,
    includeDirs: dirs,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    envoy: {
      service: {
        ext_proc: { v3: { ExternalProcessor: { service: grpc.ServiceDefinition } } };
        accesslog: { v3: { AccessLogService: { service: grpc.ServiceDefinition } } };
      };
    };
  };
  cached = {
    extProc: directCodec(pkg.envoy.service.ext_proc.v3.ExternalProcessor.service, protobufRoot()),
    accessLog: pkg.envoy.service.accesslog.v3.AccessLogService.service,
  };
  return cached;
}

let root: protobuf.Root | undefined;
/** The loaded protos as protobufjs reflection (the enum numbers messages.ts writes are checked against it). */
export function protobufRoot(): protobuf.Root {
  // proto-loader registers the well-known types protobufjs does not bundle (descriptor.proto).
  root ??= loadRoot(includeDirs());
  return root;
}
