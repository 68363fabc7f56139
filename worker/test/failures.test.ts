// The plain-text answers @cloudflare/containers 0.3.7 builds itself, turned into JSON a client can act on.
import { describe, expect, it } from "vitest";
import { mapLibraryResponse } from "../src/failures";

describe("mapLibraryResponse", () => {
  const mapped: [string, Response, number, string, string | null][] = [
    [
      "no instance (503)",
      new Response("There is no Container instance available at this time.\nThis is likely because you have reached your max concurrent instance count", { status: 503 }),
      503,
      "no_instance",
      "10",
    ],
    ["start rate limit (429)", new Response("you are requesting too many containers per second", { status: 429 }), 503, "start_rate_limited", "2"],
    ["failed start (500)", new Response("Failed to start container: the container is not listening in the TCP address 10.0.0.1:8000", { status: 500 }), 502, "container_failed", null],
    ["disconnect (500)", new Response("Container suddenly disconnected, try again", { status: 500 }), 502, "container_disconnected", null],
    ["proxy error (500)", new Response("Error proxying request to container: boom", { status: 500 }), 502, "container_failed", null],
  ];
  for (const [name, res, status, code, retry] of mapped) {
    it(`maps ${name} to ${status} ${code}`, async () => {
      const out = await mapLibraryResponse(res);
      expect(out.status).toBe(status);
      expect(out.headers.get("Content-Type")).toBe("application/json; charset=utf-8");
      expect(out.headers.get("Retry-After")).toBe(retry);
      expect(await out.json()).toMatchObject({ ok: false, error: code });
    });
  }

  const untouched: [string, Response][] = [
    ["a Lean error (400 JSON)", new Response('{"ok": false, "stdout": "", "stderr": "", "exitCode": 1, "elapsed": 0.1}', { status: 400, headers: { "Content-Type": "application/json; charset=utf-8" } })],
    ["a timeout (408 JSON)", new Response('{"ok": false}', { status: 408, headers: { "Content-Type": "application/json; charset=utf-8" } })],
    ["another image's own 500", new Response("internal error in my app", { status: 500 })],
    ["another image's own 503 JSON", new Response('{"busy": true}', { status: 503, headers: { "Content-Type": "application/json" } })],
  ];
  for (const [name, res] of untouched) {
    it(`passes ${name} through`, async () => {
      const status = res.status;
      const text = await res.clone().text();
      const out = await mapLibraryResponse(res);
      expect(out.status).toBe(status);
      expect(await out.text()).toBe(text);
    });
  }
});
