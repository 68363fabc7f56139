// Issue 8: when SLEEP_AFTER passes with no request, the instance must really stop. The Lean server is
// PID 1 and ignores SIGTERM, so LeanContainer ends it with SIGKILL (destroy()) unless IDLE_STOP_SIGNAL
// keeps the graceful stop. The real alarm loop of @cloudflare/containers runs in workerd here; only the
// container API is the observed fake, which ignores SIGTERM like the Lean image's PID 1.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ContainerEvent, ObservedLeanContainer } from "./fake-container";
import { leanPost, testEnv, uniqueName, waitFor } from "./helpers";

async function startIdle(sleepAfter: string, signal?: "SIGTERM") {
  const stub = testEnv.OBSERVED.get(testEnv.OBSERVED.idFromName(uniqueName("idle")));
  await runInDurableObject(stub, (c: ObservedLeanContainer) => {
    c.sleepAfter = sleepAfter;
    if (signal !== undefined) c.settings.idleStopSignal = signal;
  });
  const res = await stub.fetch(leanPost("#eval 1 + 1"));
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  const lastRequestAt = Date.now();
  const events = () => runInDurableObject(stub, (c: ObservedLeanContainer) => ({ running: c.fake.running, events: [...c.fake.events] }));
  return { stub, lastRequestAt, events };
}

describe("idle stop", () => {
  it("kills the instance within seconds of SLEEP_AFTER by default (SIGKILL via destroy)", async () => {
    const { lastRequestAt, events, stub } = await startIdle("1s");
    const stopped = await waitFor(
      "the idle container to stop",
      async () => {
        const s = await events();
        return s.running ? undefined : s;
      },
      8_000,
    );
    const destroy = stopped.events.find((e: ContainerEvent) => e.op === "destroy");
    expect(destroy).toBeDefined();
    expect(destroy!.signal).toBe(9);
    expect(stopped.events.some((e: ContainerEvent) => e.op === "signal" && e.signal === 15)).toBe(false);
    const exit = stopped.events.find((e: ContainerEvent) => e.op === "exit")!;
    const idleMs = exit.at - lastRequestAt;
    expect(idleMs).toBeGreaterThanOrEqual(900);
    expect(idleMs).toBeLessThan(4_000);
    // The library records the stop; the next request starts a fresh instance.
    await waitFor("the stopped state", async () => {
      const st = await runInDurableObject(stub, (c: ObservedLeanContainer) => c.getState());
      return st.status === "stopped" || st.status === "stopped_with_code" ? st : undefined;
    }, 3_000);
    const again = await stub.fetch(leanPost("#eval 1 + 1"));
    expect(again.status).toBe(200);
    const after = await events();
    expect(after.running).toBe(true);
    expect(after.events.filter((e: ContainerEvent) => e.op === "start")).toHaveLength(2);
  });

  it("with IDLE_STOP_SIGNAL=SIGTERM sends SIGTERM, which the Lean server's PID 1 ignores", async () => {
    const { events } = await startIdle("1s", "SIGTERM");
    const signalled = await waitFor(
      "SIGTERM",
      async () => {
        const s = await events();
        return s.events.some((e: ContainerEvent) => e.op === "signal") ? s : undefined;
      },
      8_000,
    );
    expect(signalled.events.filter((e: ContainerEvent) => e.op === "signal").map((e: ContainerEvent) => e.signal)).toEqual([15]);
    expect(signalled.events.some((e: ContainerEvent) => e.op === "destroy")).toBe(false);
    // Still running a second later: this is the instance that would bill until the platform's SIGKILL.
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await events()).running).toBe(true);
  });

  it("does not stop an instance that keeps getting requests", async () => {
    const { stub, events } = await startIdle("2s");
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 600));
      const res = await stub.fetch(leanPost("#eval 1 + 1"));
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const s = await events();
    expect(s.running).toBe(true);
    expect(s.events.map((e: ContainerEvent) => e.op)).toEqual(["start"]);
  });
});
