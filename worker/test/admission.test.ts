// Admission control: the Admission queue alone (with a hand-driven clock), an instance's Durable Object
// with LEAN_ORIGIN at the echo origin (whose "-- echo: sleep MS" body answers after MS and "-- echo: hang"
// never), and the Worker's retry over other instances.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { Admission, type Refusal, type Ticket } from "../src/admission";
import { containerBackend, instanceNames, type InstanceStub, type LeanNamespace } from "../src/backends";
import type { Timers } from "../src/bounds";
import type { Echo } from "./echo";
import type { ObservedLeanContainer } from "./fake-container";
import { configuredNamespace, testEnv, viaNamespace, type ErrorResult } from "./helpers";

/** Timers that fire only when the test advances the clock. */
function manualClock() {
  let now = 0;
  let seq = 0;
  const pending = new Map<number, { at: number; fn: () => void }>();
  const timers: Timers = {
    setTimeout: (fn, ms) => {
      pending.set(++seq, { at: now + ms, fn });
      return seq;
    },
    clearTimeout: (h) => void pending.delete(h as number),
  };
  const advance = (ms: number) => {
    now += ms;
    for (const [id, t] of [...pending].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at <= now) {
        pending.delete(id);
        t.fn();
      }
    }
  };
  return { timers, advance, pending: () => pending.size };
}

const isTicket = (x: Ticket | Refusal): x is Ticket => typeof x !== "string";

describe("Admission", () => {
  it("grants up to maxConcurrent at once and queues the rest in FIFO order", async () => {
    const { timers } = manualClock();
    const a = new Admission({ maxConcurrent: 2, maxQueue: 3, queueTimeoutMs: 1000 }, timers);
    const first = await Promise.all([a.acquire(), a.acquire()]);
    expect(first.every(isTicket)).toBe(true);
    const order: number[] = [];
    const queued = [0, 1, 2].map((i) => a.acquire().then((t) => (order.push(i), t)));
    expect([a.inFlight, a.waiting]).toEqual([2, 3]);
    (first[0] as Ticket).release();
    await queued[0];
    (first[1] as Ticket).release();
    await queued[1];
    expect(order).toEqual([0, 1]);
    const t0 = (await queued[0]) as Ticket;
    t0.release();
    t0.release(); // a second release changes nothing
    await queued[2];
    expect(order).toEqual([0, 1, 2]);
    expect([a.inFlight, a.waiting]).toEqual([2, 0]);
  });

  it("refuses with queue_full beyond maxQueue, at once", async () => {
    const a = new Admission({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: 1000 }, manualClock().timers);
    await a.acquire();
    void a.acquire();
    expect(await a.acquire()).toBe("queue_full");
    const none = new Admission({ maxConcurrent: 1, maxQueue: 0, queueTimeoutMs: 1000 }, manualClock().timers);
    await none.acquire();
    expect(await none.acquire()).toBe("queue_full");
  });

  it("gives up a wait with queue_timeout after queueTimeoutMs and keeps the slot count right", async () => {
    const clock = manualClock();
    const a = new Admission({ maxConcurrent: 1, maxQueue: 2, queueTimeoutMs: 1000 }, clock.timers);
    const held = (await a.acquire()) as Ticket;
    const waiting = a.acquire();
    clock.advance(999);
    expect(a.waiting).toBe(1);
    clock.advance(1);
    expect(await waiting).toBe("queue_timeout");
    expect(a.waiting).toBe(0);
    held.release();
    expect(a.inFlight).toBe(0);
    expect(isTicket(await a.acquire())).toBe(true);
  });

  it("drops a waiter whose client went away, and the next in line moves up", async () => {
    const clock = manualClock();
    const a = new Admission({ maxConcurrent: 1, maxQueue: 2, queueTimeoutMs: 1000 }, clock.timers);
    const held = (await a.acquire()) as Ticket;
    const ctl = new AbortController();
    const gone = a.acquire(ctl.signal);
    const next = a.acquire();
    ctl.abort();
    expect(await gone).toBe("aborted");
    expect(a.waiting).toBe(1);
    held.release();
    expect(isTicket(await next)).toBe(true);
    expect(clock.pending()).toBe(0); // no queue timer left behind
  });
});

const sleepy = (ms: number, timeout = 30) =>
  new Request("https://lean.example/", { method: "POST", body: `-- echo: sleep ${ms}\n#eval 1`, headers: { "X-Lean-Timeout": String(timeout) } });

/** One instance (INSTANCES=1) with LEAN_ORIGIN at the echo origin and the given limits. */
function oneInstance(vars: Record<string, string>) {
  const all = { LEAN_ORIGIN: testEnv.LEAN_ORIGIN, INSTANCES: "1", ...vars };
  const { ns } = configuredNamespace(all);
  const send = (req: Request) => viaNamespace(req, all, ns);
  const inside = <T>(fn: (c: ObservedLeanContainer) => T | Promise<T>) =>
    runInDurableObject(testEnv.OBSERVED.get(ns.idFromName(instanceNames(1)[0]) as DurableObjectId) as DurableObjectStub<ObservedLeanContainer>, fn);
  return { send, inside };
}

describe("an instance under load", () => {
  it("runs MAX_CONCURRENT at once, queues MAX_QUEUE, and answers 429 naming the limits beyond", async () => {
    const { send, inside } = oneInstance({ MAX_CONCURRENT: "1", MAX_QUEUE: "1", QUEUE_TIMEOUT: "20" });
    const running = send(sleepy(1500));
    const queued = send(sleepy(10));
    await new Promise((r) => setTimeout(r, 300));
    expect(await inside((c) => [c.admission.inFlight, c.admission.waiting])).toEqual([1, 1]);
    const refused = await send(sleepy(10));
    expect(refused.status).toBe(429);
    expect(refused.headers.get("Retry-After")).toBe("2");
    const body = await refused.json<ErrorResult>();
    expect(body.error).toBe("queue_full");
    expect(body.retryAfter).toBe(2);
    expect(body.message).toContain("MAX_CONCURRENT=1");
    expect(body.message).toContain("MAX_QUEUE=1");
    expect((await running).status).toBe(200);
    expect((await queued).status).toBe(200);
    expect(await inside((c) => [c.admission.inFlight, c.admission.waiting])).toEqual([0, 0]);
  });

  it("answers 503 naming QUEUE_TIMEOUT to a request that waited too long", async () => {
    const { send } = oneInstance({ MAX_CONCURRENT: "1", MAX_QUEUE: "4", QUEUE_TIMEOUT: "1" });
    const running = send(sleepy(3000));
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    const late = await send(sleepy(10));
    expect(late.status).toBe(503);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(late.headers.get("Retry-After")).toBe("5");
    const body = await late.json<ErrorResult>();
    expect(body.error).toBe("queue_timeout");
    expect(body.message).toContain("QUEUE_TIMEOUT=1 s");
    expect((await running).status).toBe(200);
  });

  it("lets GET /health through while every slot and the queue are full", async () => {
    const { send } = oneInstance({ MAX_CONCURRENT: "1", MAX_QUEUE: "0" });
    const running = send(sleepy(1500));
    await new Promise((r) => setTimeout(r, 200));
    expect((await send(sleepy(10))).status).toBe(429);
    const health = await send(new Request("https://lean.example/health"));
    expect(health.status).toBe(200);
    expect((await health.json<Echo>()).path).toBe("/health");
    expect((await running).status).toBe(200);
  });

  it("frees the slot at the evaluation's bound (504) so the next request runs at once", async () => {
    const { send, inside } = oneInstance({ MAX_CONCURRENT: "1", MAX_QUEUE: "0", UPSTREAM_GRACE: "0" });
    const stuck = await send(new Request("https://lean.example/", { method: "POST", body: "-- echo: hang", headers: { "X-Lean-Timeout": "1" } }));
    expect(stuck.status).toBe(504);
    expect(await inside((c) => c.admission.inFlight)).toBe(0);
    expect((await send(sleepy(10))).status).toBe(200);
  });

  it("frees the slot when the client goes away", async () => {
    const { send, inside } = oneInstance({ MAX_CONCURRENT: "1", MAX_QUEUE: "0" });
    expect((await send(sleepy(1))).status).toBe(200); // configured for LEAN_ORIGIN
    const ctl = new AbortController();
    const pending = inside((c) => c.fetch(new Request("http://lean-container/", { method: "POST", body: "-- echo: hang", signal: ctl.signal, headers: { "X-Lean-Timeout": "60" } })));
    await new Promise((r) => setTimeout(r, 300));
    expect(await inside((c) => c.admission.inFlight)).toBe(1);
    ctl.abort();
    await pending.catch(() => undefined);
    expect(await inside((c) => c.admission.inFlight)).toBe(0);
  });

  it("answers 500 naming a bad MAX_CONCURRENT through the Worker", async () => {
    const res = await viaNamespace(sleepy(1), { MAX_CONCURRENT: "lots" }, configuredNamespace({}).ns);
    expect(res.status).toBe(500);
    expect((await res.json<ErrorResult>()).message).toContain('MAX_CONCURRENT is "lots"');
  });
});

describe("trying other instances", () => {
  /** Instances whose answer depends on their name; every call is recorded. */
  function instances(answer: (name: string) => Response) {
    const calls: string[] = [];
    const ns: LeanNamespace = {
      idFromName: (n) => ({ toString: () => n }) as unknown as DurableObjectId,
      get: (id) =>
        ({
          fetch: async () => {
            calls.push(id.toString());
            return answer(id.toString());
          },
        }) satisfies InstanceStub,
    };
    return { calls, ns };
  }
  const full = () => new Response(JSON.stringify({ ok: false, error: "queue_full", message: "full" }), { status: 429, headers: { "Content-Type": "application/json; charset=utf-8", "Retry-After": "2" } });
  const ok = () => new Response('{"ok": true}', { status: 200 });
  const limits = { instances: 5, containerStartTimeoutMs: 1000, queueTimeoutMs: 1000 };
  const program = new TextEncoder().encode("#eval 1");

  it("picks up to three distinct instances in random order", () => {
    for (let i = 0; i < 50; i++) {
      const names = instanceNames(5);
      expect(names).toHaveLength(3);
      expect(new Set(names).size).toBe(3);
      for (const n of names) expect(n).toMatch(/^instance-[0-4]$/);
    }
    expect(instanceNames(2)).toHaveLength(2);
    expect(instanceNames(1)).toEqual(["cf-singleton-container"]);
  });

  it("tries another instance when the first is full, and answers from the first with room", async () => {
    const { calls, ns } = instances((n) => (n === "instance-0" ? full() : ok()));
    const zeroFirst = () => 0; // the shuffle keeps instance-0 first, then instance-1
    const res = await containerBackend(ns, limits, zeroFirst).evaluate(program, 5, new AbortController().signal);
    expect(res.status).toBe(200);
    expect(calls).toEqual(["instance-0", "instance-1"]);
  });

  it("gives the client 429 after three full instances", async () => {
    const { calls, ns } = instances(() => full());
    const res = await containerBackend(ns, limits).evaluate(program, 5, new AbortController().signal);
    expect(res.status).toBe(429);
    expect(calls).toHaveLength(3);
    expect(new Set(calls).size).toBe(3);
  });

  it("does not retry a request that waited (503) or any other answer", async () => {
    for (const answer of [
      () => new Response('{"ok": false, "error": "queue_timeout"}', { status: 503, headers: { "Content-Type": "application/json" } }),
      () => new Response('{"ok": false, "error": "start_rate_limited"}', { status: 429, headers: { "Content-Type": "application/json" } }),
    ]) {
      const { calls, ns } = instances(answer);
      await containerBackend(ns, limits).evaluate(program, 5, new AbortController().signal);
      expect(calls).toHaveLength(1);
    }
  });

  it("tries only INSTANCE_TRIES instances", async () => {
    const { calls, ns } = instances(() => full());
    expect((await containerBackend(ns, { ...limits, instanceTries: 1 }).evaluate(program, 5, new AbortController().signal)).status).toBe(429);
    expect(calls).toHaveLength(1);
  });

  it("never retries with one instance", async () => {
    const { calls, ns } = instances(() => full());
    expect((await containerBackend(ns, { ...limits, instances: 1 }).evaluate(program, 5, new AbortController().signal)).status).toBe(429);
    expect(calls).toEqual(["cf-singleton-container"]);
  });
});
