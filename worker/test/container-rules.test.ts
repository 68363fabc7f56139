// The shared rules through the container entry point, with LEAN_ORIGIN at the echo origin: a request
// that passes every rule comes back as its echo (200), the control showing the rule decided.
import { describe, expect, it } from "vitest";
import worker from "../src/container";
import type { Echo } from "./echo";
import type { ErrorResult } from "./helpers";
import { testEnv, viaInstances } from "./helpers";

function call(req: Request, vars: Record<string, string | undefined> = {}): Promise<Response> {
  const e = { ...testEnv, ...vars };
  return worker.fetch(req as Parameters<typeof worker.fetch>[0], e as unknown as Env);
}

const post = (body: BodyInit, headers: HeadersInit = {}) => new Request("https://lean.example/", { method: "POST", body, headers });

async function errorOf(res: Response): Promise<string> {
  return (await res.json<ErrorResult>()).error;
}

async function forwarded(res: Response): Promise<Echo> {
  expect(res.status).toBe(200);
  return res.json<Echo>();
}

describe("container entry point rules", () => {
  it("requires the API key when LEAN_API_KEY is set", async () => {
    const vars = { LEAN_API_KEY: "k-123" };
    const denied = await call(post("#eval 1"), vars);
    expect(denied.status).toBe(401);
    expect(await errorOf(denied)).toBe("unauthorized");
    expect((await forwarded(await call(post("#eval 1", { Authorization: "Bearer k-123" }), vars))).body).toBe("#eval 1");
  });

  it("rejects a non-integer X-Lean-Timeout before forwarding", async () => {
    const res = await call(post("#eval 1", { "X-Lean-Timeout": "soon" }));
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toBe("bad_timeout");
  });

  it("applies MAX_BODY_BYTES", async () => {
    const res = await call(post("x".repeat(101)), { MAX_BODY_BYTES: "100" });
    expect(res.status).toBe(413);
    expect(await errorOf(res)).toBe("body_too_large");
    expect((await forwarded(await call(post("x".repeat(100)), { MAX_BODY_BYTES: "100" }))).contentLength).toBe("100");
  });

  it("rejects a body that is not UTF-8", async () => {
    const res = await call(post(new Uint8Array([0xfe, 0xff])));
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toBe("body_not_utf8");
  });

  it("answers CORS preflights and 404s", async () => {
    const pre = await call(new Request("https://lean.example/", { method: "OPTIONS", headers: { Origin: "https://app.example" } }), { CORS_ORIGINS: "https://app.example" });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example");
    const nf = await call(new Request("https://lean.example/metrics"), { CORS_ORIGINS: "https://app.example" });
    expect(nf.status).toBe(404);
  });

  it("answers 500 naming a bad container setting", async () => {
    const res = await call(post("#eval 1"), { INSTANCES: "zero" });
    expect(res.status).toBe(500);
    const body = await res.json<ErrorResult>();
    expect(body.error).toBe("misconfigured");
    expect(body.message).toContain('INSTANCES is "zero"');
  });

  it("leaves /health open without the key and forwards it", async () => {
    expect((await forwarded(await call(new Request("https://lean.example/health"), { LEAN_API_KEY: "k" }))).path).toBe("/health");
  });

  it("answers 502 JSON naming LEAN_ORIGIN when it cannot be reached", async () => {
    const res = await viaInstances(post("#eval 1"), { LEAN_ORIGIN: "http://127.0.0.1:9" });
    expect(res.status).toBe(502);
    const body = await res.json<ErrorResult>();
    expect(body.error).toBe("origin_unreachable");
    expect(body.message).toMatch(/^LEAN_ORIGIN http:\/\/127\.0\.0\.1:9 gave no answer: /);
  });
});
