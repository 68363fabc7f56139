// Every upstream wait is bounded: an evaluation waits at most its clamped X-Lean-Timeout plus
// UPSTREAM_GRACE, a health probe at most HEALTH_TIMEOUT_SECONDS, then the client gets a 504 JSON error.
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { handle, type LeanBackend } from "../src/routing";
import type { ErrorResult } from "./helpers";

/** A backend that accepts every call and never answers (until the call's signal aborts). */
function silent() {
  const aborted: string[] = [];
  const never = (what: string, signal: AbortSignal) =>
    new Promise<Response>((_, reject) => {
      signal.addEventListener("abort", () => {
        aborted.push(what);
        reject(signal.reason);
      });
    });
  const backend: LeanBackend = {
    evaluate: (_p, _t, signal) => never("evaluate", signal),
    health: (signal) => never("health", signal),
  };
  return { backend, aborted };
}

const post = (headers: HeadersInit = {}) => new Request("https://lean.example/", { method: "POST", body: "#eval 1", headers });

describe("bounded waits", () => {
  it("answers 504 after X-Lean-Timeout + UPSTREAM_GRACE and cancels the upstream call", async () => {
    const { backend, aborted } = silent();
    const started = Date.now();
    const res = await handle(post({ "X-Lean-Timeout": "1" }), { UPSTREAM_GRACE: "0" }, () => backend);
    const took = Date.now() - started;
    expect(res.status).toBe(504);
    expect(res.headers.get("Content-Type")).toBe("application/json; charset=utf-8");
    const body = await res.json<ErrorResult>();
    expect(body.error).toBe("upstream_timeout");
    expect(body.message).toContain("X-Lean-Timeout 1 s + UPSTREAM_GRACE 0 s");
    expect(took).toBeGreaterThanOrEqual(990);
    expect(took).toBeLessThan(8_000);
    expect(aborted).toEqual(["evaluate"]);
  });

  it("clamps the bound with MAX_LEAN_TIMEOUT", async () => {
    const { backend } = silent();
    const started = Date.now();
    const res = await handle(post({ "X-Lean-Timeout": "3600" }), { MAX_LEAN_TIMEOUT: "1", UPSTREAM_GRACE: "1" }, () => backend);
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("bounds a health probe", async () => {
    const { backend, aborted } = silent();
    const res = await handle(new Request("https://lean.example/health"), {}, () => backend, { healthTimeoutMs: 300 });
    expect(res.status).toBe(504);
    expect((await res.json<ErrorResult>()).error).toBe("health_timeout");
    expect(aborted).toEqual(["health"]);
  });

  it("answers 504 through the deployed entry point when LEAN_ORIGIN accepts and never answers", async () => {
    // The echo origin holds a request whose body starts with "-- echo: hang" without answering.
    const started = Date.now();
    const res = await exports.default.fetch(
      new Request("https://lean4-server.example.workers.dev/", { method: "POST", body: "-- echo: hang\n#eval 1", headers: { "X-Lean-Timeout": "1" } }),
    );
    expect(res.status).toBe(504);
    expect((await res.json<ErrorResult>()).error).toBe("upstream_timeout");
    expect(Date.now() - started).toBeLessThan(12_000);
  });
});
