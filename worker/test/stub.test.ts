// The stub entry point in workerd: canned answers, and every shared rule (auth, limits, CORS, 404).
import { describe, expect, it } from "vitest";
import stub from "../src/stub";
import { STUB_EVALUATE_BODY, STUB_HEALTH_BODY } from "../src/stub-backend";
import type { LeanVars } from "../src/settings";

function call(req: Request, vars: LeanVars = {}): Promise<Response> {
  return stub.fetch(req as Parameters<typeof stub.fetch>[0], vars);
}
const post = (body: BodyInit | null, headers: HeadersInit = {}, path = "/") =>
  new Request(`https://lean.example${path}`, { method: "POST", body, headers });
const get = (path: string, headers: HeadersInit = {}) => new Request(`https://lean.example${path}`, { headers });

describe("stub routes", () => {
  it("POST / answers the canned Lean result byte for byte", async () => {
    const res = await call(post("#eval 1 + 1"));
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("application/json; charset=utf-8");
    expect(await res.text()).toBe('{"ok": true, "stdout": "2\\n", "stderr": "", "exitCode": 0, "elapsed": 0.0, "stub": true}');
    expect(JSON.parse(STUB_EVALUATE_BODY)).toEqual({ ok: true, stdout: "2\n", stderr: "", exitCode: 0, elapsed: 0, stub: true });
  });

  it("GET /health answers status ok and stub true", async () => {
    const res = await call(get("/health?probe=1"));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(STUB_HEALTH_BODY);
    expect(JSON.parse(STUB_HEALTH_BODY)).toEqual({ status: "ok", stub: true });
  });

  const notFound: [string, Request][] = [
    ["GET /", get("/")],
    ["POST /health", post("x", {}, "/health")],
    ["GET /health/", get("/health/")],
    ["POST /eval", post("x", {}, "/eval")],
    ["PUT /", new Request("https://lean.example/", { method: "PUT", body: "x" })],
    ["DELETE /health", new Request("https://lean.example/health", { method: "DELETE" })],
    ["OPTIONS /nope", new Request("https://lean.example/nope", { method: "OPTIONS" })],
  ];
  for (const [name, req] of notFound) {
    it(`answers ${name} with a JSON 404`, async () => {
      const res = await call(req);
      expect(res.status).toBe(404);
      expect(res.headers.get("Content-Type")).toBe("application/json; charset=utf-8");
      const body = await res.json<{ ok: boolean; error: string; message: string }>();
      expect(body.ok).toBe(false);
      expect(body.error).toBe("not_found");
      expect(body.message).toContain("POST /");
    });
  }
});

describe("API key", () => {
  const vars = { LEAN_API_KEY: "s3cret-key" };
  const cases: [string, HeadersInit, number][] = [
    ["no key", {}, 401],
    ["wrong bearer", { Authorization: "Bearer s3cret-kez" }, 401],
    ["key prefix", { Authorization: "Bearer s3cret" }, 401],
    ["basic scheme", { Authorization: "Basic s3cret-key" }, 401],
    ["wrong X-API-Key", { "X-API-Key": "nope" }, 401],
    ["bearer", { Authorization: "Bearer s3cret-key" }, 200],
    ["lower-case bearer", { Authorization: "bearer s3cret-key" }, 200],
    ["X-API-Key", { "X-API-Key": "s3cret-key" }, 200],
  ];
  for (const [name, headers, want] of cases) {
    it(`POST / with ${name} -> ${want}`, async () => {
      const res = await call(post("#eval 1 + 1", headers), vars);
      expect(res.status).toBe(want);
      if (want === 401) {
        expect(res.headers.get("WWW-Authenticate")).toBe('Bearer realm="lean4-cf"');
        expect(await res.json()).toMatchObject({ ok: false, error: "unauthorized" });
      }
    });
  }

  it("leaves GET /health open unless HEALTH_REQUIRES_KEY is true", async () => {
    expect((await call(get("/health"), vars)).status).toBe(200);
    expect((await call(get("/health"), { ...vars, HEALTH_REQUIRES_KEY: "true" })).status).toBe(401);
    expect((await call(get("/health", { "X-API-Key": "s3cret-key" }), { ...vars, HEALTH_REQUIRES_KEY: "true" })).status).toBe(200);
  });

  it("checks the key before reading the body", async () => {
    const res = await call(post("x".repeat(2048)), { ...vars, MAX_BODY_BYTES: "1024" });
    expect(res.status).toBe(401);
  });
});

describe("CORS", () => {
  const vars = { CORS_ORIGINS: "https://app.example, http://localhost:5173", LEAN_API_KEY: "k" };

  it("answers a preflight from an allowed origin without asking for the key", async () => {
    const res = await call(
      new Request("https://lean.example/", {
        method: "OPTIONS",
        headers: { Origin: "https://app.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, x-lean-timeout" },
      }),
      vars,
    );
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example");
    expect(res.headers.get("Access-Control-Allow-Methods")).toBe("GET, POST, OPTIONS");
    expect(res.headers.get("Access-Control-Allow-Headers")).toBe("Authorization, Content-Type, X-API-Key, X-Lean-Timeout");
    expect(res.headers.get("Access-Control-Max-Age")).toBe("86400");
    expect(res.headers.get("Vary")).toBe("Origin");
  });

  it("gives no CORS grant to other origins", async () => {
    const res = await call(new Request("https://lean.example/", { method: "OPTIONS", headers: { Origin: "https://evil.example" } }), vars);
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
    expect(res.headers.get("Access-Control-Allow-Methods")).toBeNull();
    expect(res.headers.get("Allow")).toBe("GET, POST, OPTIONS");
  });

  it("adds the origin to answers and errors, and exposes Retry-After", async () => {
    const ok = await call(post("#eval 1 + 1", { Origin: "http://localhost:5173", "X-API-Key": "k" }), vars);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("Access-Control-Allow-Origin")).toBe("http://localhost:5173");
    expect(ok.headers.get("Access-Control-Expose-Headers")).toBe("Retry-After");
    const denied = await call(post("#eval 1 + 1", { Origin: "https://app.example" }), vars);
    expect(denied.status).toBe(401);
    expect(denied.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example");
  });

  it("allows every origin with *", async () => {
    const res = await call(get("/health", { Origin: "https://any.example" }), { CORS_ORIGINS: "*" });
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(res.headers.get("Vary")).toBeNull();
  });

  it("sends no CORS headers when CORS_ORIGINS is empty", async () => {
    const res = await call(get("/health", { Origin: "https://app.example" }));
    expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
    expect(res.headers.get("Vary")).toBeNull();
  });
});

describe("misconfiguration", () => {
  it("answers 500 JSON naming the variable", async () => {
    const res = await call(post("#eval 1 + 1"), { MAX_BODY_BYTES: "lots" });
    expect(res.status).toBe(500);
    const body = await res.json<{ error: string; message: string }>();
    expect(body.error).toBe("misconfigured");
    expect(body.message).toContain('MAX_BODY_BYTES is "lots"');
  });
});
