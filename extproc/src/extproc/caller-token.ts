// Who may open a gRPC stream: Envoy, which adds the caller token to every stream it opens to
// switchyard (bootstrap.ts, from its own environment). A stream without the right token is
// refused before any message is read (UNAUTHENTICATED) and counted, so a local process that
// reaches the port cannot drive ext_proc. Tokens are compared as SHA-256 digests in constant time.
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { TOKEN_ENV, TOKEN_METADATA_KEY } from "../vocab/names.js";

export type Refusal = "missing" | "wrong";

/**
 * The token: the first line of `file` when given, else the SWITCHYARD_GRPC_TOKEN environment
 * variable; undefined when neither is set (then every caller is let in). Throws for an
 * unreadable or empty file.
 */
export function loadCallerToken(file: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (file !== undefined) {
    const token = (readFileSync(file, "utf8").split("\n")[0] ?? "").trim();
    if (token === "") throw new Error(`${file} holds no token`);
    return token;
  }
  const fromEnv = env[TOKEN_ENV]?.trim();
  return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Why `presented` does not match, or undefined when it does. */
export function checkToken(expected: string, presented: readonly grpc.MetadataValue[]): Refusal | undefined {
  const value = presented[0];
  if (value === undefined || value === "") return "missing";
  return timingSafeEqual(digest(expected), digest(String(value))) ? undefined : "wrong";
}

/** A server interceptor that ends every call without the token with UNAUTHENTICATED. */
export function callerTokenInterceptor(
  token: string,
  onRefused: (reason: Refusal) => void,
): grpc.ServerInterceptor {
  return (_method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, mdNext) {
            const refusal = checkToken(token, metadata.get(TOKEN_METADATA_KEY));
            if (refusal === undefined) {
              mdNext(metadata);
              return;
            }
            onRefused(refusal);
            call.sendStatus({
              code: grpc.status.UNAUTHENTICATED,
              details: `switchyard: ${refusal} caller token (${TOKEN_METADATA_KEY})`,
              metadata: new grpc.Metadata(),
            });
          },
        });
      },
    });
}
