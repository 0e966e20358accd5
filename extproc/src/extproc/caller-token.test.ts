// The caller-token check, on a real grpc-js server on loopback: a call without the token, or
// with another one, is refused UNAUTHENTICATED before its handler runs, and counted.
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { TOKEN_ENV, TOKEN_METADATA_KEY } from "../vocab/names.js";
import { callerTokenInterceptor, checkToken, loadCallerToken, type Refusal } from "./caller-token.js";

const echo: grpc.ServiceDefinition = {
  Echo: {
    path: "/test.Echo/Echo",
    requestStream: false,
    responseStream: false,
    requestSerialize: (v: Buffer) => v,
    requestDeserialize: (v: Buffer) => v,
    responseSerialize: (v: Buffer) => v,
    responseDeserialize: (v: Buffer) => v,
  },
};

describe("caller token", () => {
  test("checkToken: missing, wrong, right", () => {
    assert.equal(checkToken("s3cret", []), "missing");
    assert.equal(checkToken("s3cret", [""]), "missing");
    assert.equal(checkToken("s3cret", ["s3cre"]), "wrong");
    assert.equal(checkToken("s3cret", ["s3cret"]), undefined);
  });

  test("loadCallerToken: the file's first line wins, else the environment, else none", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "swy-token-")), "token");
    await writeFile(file, "from-file\n");
    assert.equal(loadCallerToken(file, { [TOKEN_ENV]: "from-env" }), "from-file");
    assert.equal(loadCallerToken(undefined, { [TOKEN_ENV]: " from-env " }), "from-env");
    assert.equal(loadCallerToken(undefined, {}), undefined);
    await writeFile(file, "\n");
    assert.throws(() => loadCallerToken(file, {}), /holds no token/);
  });

  describe("on a gRPC server", () => {
    const refused: Refusal[] = [];
    let handled = 0;
    const server = new grpc.Server({
      interceptors: [callerTokenInterceptor("s3cret", (r) => refused.push(r))],
    });
    let client: grpc.Client;
    const call = (token?: string) =>
      new Promise<grpc.status>((resolve) => {
        const md = new grpc.Metadata();
        if (token !== undefined) md.set(TOKEN_METADATA_KEY, token);
        client.makeUnaryRequest(
          "/test.Echo/Echo",
          (v: Buffer) => v,
          (v: Buffer) => v,
          Buffer.from("hi"),
          md,
          (err) => resolve(err ? (err.code as grpc.status) : grpc.status.OK),
        );
      });

    before(async () => {
      server.addService(echo, {
        Echo: (c: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
          handled++;
          done(null, c.request);
        },
      });
      const port = await new Promise<number>((res, rej) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
          e ? rej(e) : res(p),
        ),
      );
      client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    });
    after(() => {
      client.close();
      server.forceShutdown();
    });

    test("without the token: UNAUTHENTICATED, counted, the handler never runs", async () => {
      assert.equal(await call(), grpc.status.UNAUTHENTICATED);
      assert.equal(await call("guess"), grpc.status.UNAUTHENTICATED);
      assert.deepEqual(refused, ["missing", "wrong"]);
      assert.equal(handled, 0);
    });

    test("with the token: the call goes through", async () => {
      assert.equal(await call("s3cret"), grpc.status.OK);
      assert.equal(handled, 1);
    });
  });
});
