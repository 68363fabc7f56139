// End to end against the Lean server double (internal/sandbox/leandouble, byte-compatible, docs/platform-facts.md:
// HTTP/1.0, connection close, Python JSON, a body without Content-Length read as an empty program), both
// through LEAN_ORIGIN and through the container path (the real LeanContainer on the fake container API).
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { SINGLETON_NAME, type InstanceStub, type LeanNamespace } from "../src/backends";
import worker from "../src/container";
import type { ObservedLeanContainer } from "./fake-container";
import { testEnv, uniqueName, viaInstances, type ErrorResult } from "./helpers";

interface LeanResult {
  ok: boolean;
  stdout: string;
  stderr: string;
  exitCode: number;
  elapsed: number;
}

const url = "https://lean4-server.example.workers.dev";

function chunked(text: string): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(ctl) {
      for (const part of text.match(/.{1,4}/gs) ?? []) ctl.enqueue(new TextEncoder().encode(part));
      ctl.close();
    },
  });
}

function post(body: BodyInit, headers: HeadersInit = {}): Request {
  return new Request(`${url}/`, { method: "POST", body, headers, duplex: "half" } as RequestInit);
}

/** The container entry point with LEAN_ORIGIN at the double. */
function viaOrigin(req: Request, vars: Record<string, string> = {}, origin = inject("leanOrigin")): Promise<Response> {
  return viaInstances(req, { ...vars, LEAN_ORIGIN: origin });
}

/** The container entry point through a fresh observed container whose port 8000 is the double. */
async function viaContainer(req: Request, upstream = inject("leanOrigin")): Promise<Response> {
  const name = uniqueName("lean");
  const ns = testEnv.OBSERVED;
  await runInDurableObject(ns.get(ns.idFromName(name)), (c: ObservedLeanContainer) => {
    c.fake.upstream = upstream;
  });
  const single: LeanNamespace = {
    idFromName: (n: string) => ns.idFromName(n === SINGLETON_NAME ? name : `${name}/${n}`),
    get: (id: DurableObjectId) => ns.get(id) as unknown as InstanceStub,
  };
  const e = { ...testEnv, LEAN_ORIGIN: undefined, LEAN_CONTAINER: single };
  return worker.fetch(req as Parameters<typeof worker.fetch>[0], e as unknown as Env);
}

const paths: [string, (req: Request) => Promise<Response>][] = [
  ["LEAN_ORIGIN", (req) => viaOrigin(req)],
  ["the container", (req) => viaContainer(req)],
];

for (const [via, call] of paths) {
  describe(`through ${via}`, () => {
    it("evaluates #eval 1 + 1 to 2", async () => {
      const res = await call(post("#eval 1 + 1"));
      expect(res.status).toBe(200);
      expect(res.headers.get("Content-Type")).toBe("application/json; charset=utf-8");
      const text = await res.text();
      expect(text).toMatch(/^\{"ok": true, "stdout": "2\\n", "stderr": "", "exitCode": 0, "elapsed": \d+\.\d+\}$/);
    });

    it("evaluates a chunked program (sent on with a Content-Length)", async () => {
      const res = await call(post(chunked("#eval 6 * 7\n#eval 2 + 3\n")));
      expect(res.status).toBe(200);
      expect((await res.json<LeanResult>()).stdout).toBe("42\n5\n");
    });

    it("passes a Lean error on as the server's 400", async () => {
      const res = await call(post("#eval x"));
      expect(res.status).toBe(400);
      const body = await res.json<LeanResult>();
      expect(body).toMatchObject({ ok: false, exitCode: 1, stderr: "" });
      expect(body.stdout).toContain("error");
    });

    it("answers GET /health with the server's version", async () => {
      const res = await call(new Request(`${url}/health?x=1`));
      expect(res.status).toBe(200);
      const body = await res.json<{ version: string }>();
      expect(Object.keys(body)).toEqual(["version"]);
      expect(body.version).toMatch(/^Lean \(version 4\.24\.0/);
    });

    it("clamps X-Lean-Timeout 0 to 1 s (the server alone would time out at once)", async () => {
      const res = await call(post("#eval IO.sleep 5000", { "X-Lean-Timeout": "0" }));
      expect(res.status).toBe(408);
      expect(await res.json<LeanResult>()).toMatchObject({ ok: false, exitCode: -1, stderr: "Lean process timed out after 1s" });
    });
  });
}

describe("limits and failures against the double", () => {
  it("caps X-Lean-Timeout at MAX_LEAN_TIMEOUT", async () => {
    const res = await viaOrigin(post("#eval IO.sleep 5000", { "X-Lean-Timeout": "3600" }), { MAX_LEAN_TIMEOUT: "1" });
    expect(res.status).toBe(408);
    expect((await res.json<LeanResult>()).stderr).toBe("Lean process timed out after 1s");
  });

  it("answers 400 for a body that is not UTF-8 (the server would close the connection without an answer)", async () => {
    const res = await viaOrigin(post(new Uint8Array([0x23, 0x65, 0x76, 0x61, 0x6c, 0x20, 0xff])));
    expect(res.status).toBe(400);
    expect((await res.json<ErrorResult>()).error).toBe("body_not_utf8");
  });

  it("answers 502 when LEAN_ORIGIN closes the connection without an answer", async () => {
    const res = await viaOrigin(post("#eval 1 + 1"), {}, inject("leanCrashOrigin"));
    expect(res.status).toBe(502);
    expect((await res.json<ErrorResult>()).error).toBe("origin_unreachable");
  });

  it("answers 502 JSON when the container's server drops the request", async () => {
    const res = await viaContainer(post("#eval 1 + 1"), inject("leanCrashOrigin"));
    expect(res.status).toBe(502);
    expect(res.headers.get("Content-Type")).toBe("application/json; charset=utf-8");
    expect((await res.json<ErrorResult>()).error).toMatch(/^container_(disconnected|failed)$/);
  });
});
