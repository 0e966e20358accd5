// Loads the Envoy service definitions from @grpc/grpc-js-xds's deps/ (see protos/README.md).
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const require = createRequire(import.meta.url);

export interface EnvoyServices {
  extProc: grpc.ServiceDefinition;
  accessLog: grpc.ServiceDefinition;
}

let cached: EnvoyServices | undefined;

export function loadEnvoyServices(): EnvoyServices {
  if (cached) return cached;
  const deps = join(dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");
  const def = protoLoader.loadSync(
    ["envoy/service/ext_proc/v3/external_processor.proto", "envoy/service/accesslog/v3/als.proto"],
    {
      keepCase: true,
      longs: Number,
      enums: String,
      defaults: false,
      oneofs: true,
      includeDirs: ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => join(deps, d)),
    },
  );
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    envoy: {
      service: {
        ext_proc: { v3: { ExternalProcessor: { service: grpc.ServiceDefinition } } };
        accesslog: { v3: { AccessLogService: { service: grpc.ServiceDefinition } } };
      };
    };
  };
  cached = {
    extProc: pkg.envoy.service.ext_proc.v3.ExternalProcessor.service,
    accessLog: pkg.envoy.service.accesslog.v3.AccessLogService.service,
  };
  return cached;
}
