// The shared request rules, observed through a recording backend.
import { describe, expect, it } from "vitest";
import { handle, leanTimeout, type LeanBackend } from "../src/routing";
import type { LeanVars } from "../src/settings";

interface Call {
  program: string;
  bytes: number;
  timeout: number;
}

function recorder(answer: () => Promise<Response> = async () => new Response("{}")) {
  const calls: Call[] = [];
  const backend: LeanBackend = {
    async evaluate(program, timeoutSeconds) {
      calls.push({ program: new TextDecoder().decode(program), bytes: program.byteLength, timeout: timeoutSeconds });
      return answer();
    },
    health: answer,
  };
  return { calls, backend };
}

const post = (body: BodyInit | null, headers: HeadersInit = {}) => new Request("https://lean.example/", { method: "POST", body, headers });

describe("X-Lean-Timeout", () => {
  const cases: [string | null, number | "400", string?][] = [
    [null, 30],
    ["", 30],
    ["5", 5],
    [" 7 ", 7],
    ["+2", 2],
    ["60", 60],
    ["61", 60],
    ["0", 1],
    ["-3", 1],
    ["99999999999999999999999", 60],
    ["1.5", "400"],
    ["abc", "400"],
    ["0x10", "400"],
    ["1_0", "400"],
    ["5, 7", "400"],
  ];
  for (const [header, want] of cases) {
    it(`${JSON.stringify(header)} -> ${want}`, async () => {
      const { calls, backend } = recorder();
      const headers: Record<string, string> = header === null ? {} : { "X-Lean-Timeout": header };
      const res = await handle(post("#eval 1", headers), {}, () => backend);
      if (want === "400") {
        expect(res.status).toBe(400);
        const body = await res.json<{ error: string; message: string }>();
        expect(body.error).toBe("bad_timeout");
        expect(body.message).toBe(`X-Lean-Timeout is ${JSON.stringify(header)}: send a whole number of seconds from 1 to 60`);
        expect(calls).toHaveLength(0);
      } else {
        expect(res.status).toBe(200);
        expect(calls.map((c) => c.timeout)).toEqual([want]);
      }
    });
  }

  it("clamps to a configured MAX_LEAN_TIMEOUT, also when the header is absent", () => {
    expect(leanTimeout("600", 10)).toEqual({ seconds: 10 });
    expect(leanTimeout(null, 10)).toEqual({ seconds: 10 });
    expect(leanTimeout(null, 3600)).toEqual({ seconds: 30 });
  });
});

describe("request body", () => {
  const vars: LeanVars = { MAX_BODY_BYTES: "16" };

  it("accepts a body of exactly MAX_BODY_BYTES", async () => {
    const { calls, backend } = recorder();
    const res = await handle(post("x".repeat(16)), vars, () => backend);
    expect(res.status).toBe(200);
    expect(calls[0].bytes).toBe(16);
  });

  it("answers 413 for a declared length over the limit without calling the backend", async () => {
    const { calls, backend } = recorder();
    const res = await handle(post("x".repeat(17)), vars, () => backend);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ ok: false, error: "body_too_large", message: "The Lean source is larger than MAX_BODY_BYTES (16 bytes)." });
    expect(calls).toHaveLength(0);
  });

  it("answers 413 for a chunked body that grows past the limit, and stops reading it", async () => {
    const { calls, backend } = recorder();
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(c) {
        pulled++;
        c.enqueue(new TextEncoder().encode("-- padding\n"));
      },
    });
    const res = await handle(new Request("https://lean.example/", { method: "POST", body: endless, duplex: "half" } as RequestInit), vars, () => backend);
    expect(res.status).toBe(413);
    expect(pulled).toBeLessThan(10);
    expect(calls).toHaveLength(0);
  });

  it("reads a chunked body completely and hands the backend all of it", async () => {
    const { calls, backend } = recorder();
    const parts = ["def f (n : Nat) := n + 1\n", "#eval ", "f 1\n", "-- ℕ é 😀\n"];
    const chunked = new ReadableStream<Uint8Array>({
      start(c) {
        for (const p of parts) c.enqueue(new TextEncoder().encode(p));
        c.close();
      },
    });
    const req = new Request("https://lean.example/", { method: "POST", body: chunked, duplex: "half" } as RequestInit);
    expect(req.headers.get("Content-Length")).toBeNull();
    const res = await handle(req, {}, () => backend);
    expect(res.status).toBe(200);
    expect(calls[0].program).toBe(parts.join(""));
  });

  it("treats a missing body as an empty program", async () => {
    const { calls, backend } = recorder();
    expect((await handle(post(null), {}, () => backend)).status).toBe(200);
    expect(calls[0].bytes).toBe(0);
  });

  const notUtf8: [string, number[]][] = [
    ["a lone continuation byte", [0x23, 0x80]],
    ["Latin-1 é", [0x63, 0x61, 0x66, 0xe9]],
    ["a truncated sequence", [0xe2, 0x84]],
    ["an overlong slash", [0xc0, 0xaf]],
    ["a UTF-16 surrogate", [0xed, 0xa0, 0x80]],
  ];
  for (const [name, bytes] of notUtf8) {
    it(`answers 400 for ${name}`, async () => {
      const { calls, backend } = recorder();
      const res = await handle(post(new Uint8Array(bytes)), {}, () => backend);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: "body_not_utf8" });
      expect(calls).toHaveLength(0);
    });
  }

  it("passes UTF-8 with a byte-order mark through unchanged", async () => {
    const { calls, backend } = recorder();
    const res = await handle(post(new Uint8Array([0xef, 0xbb, 0xbf, 0x23])), {}, () => backend);
    expect(res.status).toBe(200);
    expect(calls[0].bytes).toBe(4);
  });
});

describe("backend failures", () => {
  const cases: [string, string, number, string, string | null][] = [
    ["no instance", "there is no container instance that can be provided to this durable object", 503, "no_instance", "10"],
    ["start rate limit", "You are requesting too many containers per second", 503, "start_rate_limited", "2"],
    ["overloaded object", "Durable Object is overloaded. Too many requests queued.", 503, "instance_busy", "2"],
    ["lost connection", "Network connection lost.", 502, "container_disconnected", null],
    ["refused origin", "connect ECONNREFUSED 127.0.0.1:9", 502, "container_failed", null],
  ];
  for (const [name, msg, status, code, retry] of cases) {
    it(`maps a thrown "${name}" to ${status} ${code}`, async () => {
      const { backend } = recorder(async () => {
        throw new Error(msg);
      });
      const res = await handle(post("#eval 1"), {}, () => backend);
      expect(res.status).toBe(status);
      expect(res.headers.get("Retry-After")).toBe(retry);
      const body = await res.json<{ error: string; retryAfter?: number }>();
      expect(body.error).toBe(code);
      expect(body.retryAfter).toBe(retry === null ? undefined : Number(retry));
    });
  }
});
