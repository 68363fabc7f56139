// The container entry point as deployed (exports.default) with LEAN_ORIGIN, the development setting,
// pointing at the echo origin: what exactly the Worker sends on, minus the container.
import { exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import type { Echo } from "./echo";
import { testEnv } from "./helpers";

const url = "https://lean4-server.example.workers.dev";

function post(body: BodyInit, headers: HeadersInit = {}, path = "/"): Request {
  return new Request(url + path, { method: "POST", body, headers, duplex: "half" } as RequestInit);
}

describe("LEAN_ORIGIN", () => {
  it("is the echo origin started by globalSetup", () => {
    expect(testEnv.LEAN_ORIGIN).toBe(inject("echoOrigin"));
  });

  it("sends POST / with the exact body, a Content-Length and the clamped timeout", async () => {
    const program = "theorem t : 1 + 1 = 2 := rfl\n#eval \"ℕ é 😀\"\r\n";
    const res = await exports.default.fetch(post(program, { "X-Lean-Timeout": "600", Authorization: "Bearer not-forwarded", "Content-Type": "application/json" }));
    expect(res.status).toBe(200);
    const echo = await res.json<Echo>();
    expect(echo.method).toBe("POST");
    expect(echo.path).toBe("/");
    expect(echo.body).toBe(program);
    expect(echo.contentLength).toBe(String(new TextEncoder().encode(program).byteLength));
    expect(echo.transferEncoding).toBeNull();
    expect(echo.leanTimeout).toBe("60");
    expect(echo.contentType).toBe("text/plain; charset=utf-8");
    expect(echo.authorization).toBeNull();
  });

  const timeouts: [string | undefined, string][] = [
    [undefined, "30"],
    ["0", "1"],
    ["-7", "1"],
    [" 12 ", "12"],
    ["+5", "5"],
  ];
  for (const [sent, forwarded] of timeouts) {
    it(`forwards X-Lean-Timeout ${JSON.stringify(sent)} as ${forwarded}`, async () => {
      const res = await exports.default.fetch(post("#eval 1", sent === undefined ? {} : { "X-Lean-Timeout": sent }));
      expect((await res.json<Echo>()).leanTimeout).toBe(forwarded);
    });
  }

  it("sends a chunked body on with a Content-Length (the Lean server would read an empty program)", async () => {
    const parts = ["#eval ", "1 + ", "1\n"];
    const chunked = new ReadableStream<Uint8Array>({
      start(ctl) {
        for (const p of parts) ctl.enqueue(new TextEncoder().encode(p));
        ctl.close();
      },
    });
    const res = await exports.default.fetch(post(chunked));
    const echo = await res.json<Echo>();
    expect(echo.body).toBe(parts.join(""));
    expect(echo.contentLength).toBe("12");
    expect(echo.transferEncoding).toBeNull();
  });

  it("sends GET /health as exactly /health, without the query or the key", async () => {
    const res = await exports.default.fetch(new Request(`${url}/health?verbose=1`, { headers: { "X-API-Key": "k" } }));
    const echo = await res.json<Echo>();
    expect(echo.method).toBe("GET");
    expect(echo.path).toBe("/health");
    expect(echo.apiKey).toBeNull();
  });

  it("does not forward requests the rules reject", async () => {
    for (const [req, status] of [
      [new Request(`${url}/`), 404],
      [post(new Uint8Array([0x23, 0xff])), 400],
      [post("#eval 1", { "X-Lean-Timeout": "1.5" }), 400],
    ] as const) {
      const res = await exports.default.fetch(req);
      expect(res.status).toBe(status);
      expect(res.headers.get("Content-Type")).toBe("application/json; charset=utf-8");
    }
  });
});
