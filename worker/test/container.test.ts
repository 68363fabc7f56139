// The container path in workerd: the real LeanContainer and @cloudflare/containers code on a fake
// container API whose port 8000 is the echo origin (see fake-container.ts and global-setup.ts).
import { runInDurableObject } from "cloudflare:test";
import { Container } from "@cloudflare/containers";
import { describe, expect, it, vi } from "vitest";
import { pickInstance, SINGLETON_NAME, withoutContainerForOrigin, type InstanceStub, type LeanNamespace } from "../src/backends";
import worker, { LeanContainer } from "../src/container";
import { containerSettings } from "../src/settings";
import type { ObservedLeanContainer } from "./fake-container";
import type { Echo } from "./echo";
import { leanPost, testEnv, uniqueName, type ErrorResult } from "./helpers";

function observed(name = uniqueName("c")): DurableObjectStub<ObservedLeanContainer> {
  return testEnv.OBSERVED.get(testEnv.OBSERVED.idFromName(name));
}

describe("LeanContainer configuration", () => {
  it("listens on 8000, sleeps after 2m, has no internet, waits 120 s and kills when idle by default", async () => {
    await runInDurableObject(observed(), (c: ObservedLeanContainer) => {
      expect(c).toBeInstanceOf(LeanContainer);
      expect(c).toBeInstanceOf(Container);
      expect(c.defaultPort).toBe(8000);
      expect(c.sleepAfter).toBe("2m");
      expect(c.enableInternet).toBe(false);
      expect(c.settings.containerStartTimeoutMs).toBe(120_000);
      expect(c.settings.idleStopSignal).toBe("SIGKILL");
    });
  });

  it("takes its settings from the Worker's variables", async () => {
    await runInDurableObject(observed(), (c: ObservedLeanContainer) => {
      // Observed instances run in container mode: LEAN_ORIGIN is not passed on to them.
      expect(c.settings).toEqual(containerSettings({ ...testEnv, LEAN_ORIGIN: undefined }));
      expect(c.sleepAfter).toBe(c.settings.sleepAfter);
    });
  });
});

describe("start and proxy", () => {
  it("starts the container, waits for port 8000 with the configured timeout, and proxies the request", async () => {
    const stub = observed();
    await runInDurableObject(stub, async (c: ObservedLeanContainer) => {
      const spy = vi.spyOn(c, "startAndWaitForPorts");
      const res = await c.fetch(leanPost("#eval 1 + 1", { "X-Lean-Timeout": "5" }));
      expect(res.status).toBe(200);
      expect(await res.json<Echo>()).toMatchObject({ method: "POST", path: "/", body: "#eval 1 + 1", contentLength: "11", leanTimeout: "5" });
      expect(spy).toHaveBeenCalledTimes(1);
      expect(spy.mock.calls[0][0]).toMatchObject({ ports: 8000, cancellationOptions: { portReadyTimeoutMS: 120_000 } });
      expect(c.fake.requests.filter((r) => r.startsWith("POST"))).toHaveLength(1);
      expect(c.fake.events.map((e) => e.op)).toEqual(["start"]);
      expect((await c.getState()).status).toBe("healthy");

      // A second request reuses the healthy container.
      const again = await c.fetch(new Request("http://lean-container/health"));
      expect(again.status).toBe(200);
      expect(spy).toHaveBeenCalledTimes(1);
    });
  });

  it("waits through a slow start within CONTAINER_START_TIMEOUT", async () => {
    await runInDurableObject(observed(), async (c: ObservedLeanContainer) => {
      c.fake.startDelayMs = 1_200;
      c.settings.containerStartTimeoutMs = 5_000;
      const started = Date.now();
      const res = await c.fetch(leanPost("#eval 1 + 1"));
      expect(res.status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_200);
    });
  });

  it("answers 502 when port 8000 is not ready within CONTAINER_START_TIMEOUT", async () => {
    await runInDurableObject(observed(), async (c: ObservedLeanContainer) => {
      c.fake.startDelayMs = 60_000;
      c.settings.containerStartTimeoutMs = 900;
      const res = await c.fetch(leanPost("#eval 1 + 1"));
      expect(res.status).toBe(502);
      const body = await res.json<ErrorResult>();
      expect(body.error).toBe("container_failed");
      expect(body.message).toContain("not listening");
      expect(c.fake.requests).toEqual([]);
    });
  });

  it("answers 502 when the container exits while starting", async () => {
    await runInDurableObject(observed(), async (c: ObservedLeanContainer) => {
      c.fake.startDelayMs = 60_000;
      setTimeout(() => c.fake.signal(9), 500);
      const res = await c.fetch(leanPost("#eval 1 + 1"));
      expect(res.status).toBe(502);
      expect((await res.json<ErrorResult>()).error).toBe("container_failed");
    });
  });

  const unavailable: [string, string, string, string][] = [
    ["no instance can be provided", "There is no container instance that can be provided to this Durable Object, try again later", "no_instance", "10"],
    ["starts are rate limited", "You are requesting too many containers per second", "start_rate_limited", "2"],
  ];
  for (const [name, err, code, retry] of unavailable) {
    it(`answers 503 with Retry-After when ${name}`, async () => {
      await runInDurableObject(observed(), async (c: ObservedLeanContainer) => {
        c.fake.startError = err;
        const res = await c.fetch(leanPost("#eval 1 + 1"));
        expect(res.status).toBe(503);
        expect(res.headers.get("Retry-After")).toBe(retry);
        expect(await res.json<ErrorResult>()).toMatchObject({ ok: false, error: code, retryAfter: Number(retry) });
      });
    });
  }

  it("keeps the runtime's context when LEAN_ORIGIN is unset, so a missing container engine is reported", () => {
    const ctx = {} as DurableObjectState<{}>;
    expect(withoutContainerForOrigin(ctx, {}).container).toBeUndefined();
    expect(withoutContainerForOrigin(ctx, { LEAN_ORIGIN: " " }).container).toBeUndefined();
  });

  it("gives an instance without a container engine an inert container when LEAN_ORIGIN is set", () => {
    const ctx = withoutContainerForOrigin({} as DurableObjectState<{}>, { LEAN_ORIGIN: "http://127.0.0.1:9" });
    expect(ctx.container?.running).toBe(false);
    expect(() => ctx.container?.start()).toThrowError(/LEAN_ORIGIN is set/);
  });

  it("leaves a real container alone when LEAN_ORIGIN is set", () => {
    const container = { running: true } as unknown as Container;
    const ctx = { container } as unknown as DurableObjectState<{}>;
    expect(withoutContainerForOrigin(ctx, { LEAN_ORIGIN: "http://127.0.0.1:9" }).container).toBe(container);
  });
});

describe("through the Worker", () => {
  it("sends a chunked body to the container with a length", async () => {
    const chunked = new ReadableStream<Uint8Array>({
      start(ctl) {
        ctl.enqueue(new TextEncoder().encode("#eval 1 "));
        ctl.enqueue(new TextEncoder().encode("+ 1"));
        ctl.close();
      },
    });
    const name = uniqueName("chunked");
    const req = new Request("https://lean.example/", { method: "POST", body: chunked, duplex: "half" } as RequestInit);
    const e = { ...testEnv, LEAN_ORIGIN: undefined, LEAN_CONTAINER: singleName(testEnv.OBSERVED, name) };
    const res = await worker.fetch(req as Parameters<typeof worker.fetch>[0], e as unknown as Env);
    expect(res.status).toBe(200);
    const echo = await res.json<Echo>();
    expect(echo).toMatchObject({ method: "POST", path: "/", body: "#eval 1 + 1", contentLength: "11", transferEncoding: null, leanTimeout: "30" });
    await runInDurableObject(observed(name), (c: ObservedLeanContainer) => {
      expect(c.fake.requests.filter((r) => r.startsWith("POST"))).toEqual(["POST / 11"]);
    });
  });

  it("forwards GET /health as exactly /health", async () => {
    const name = uniqueName("health");
    const e = { ...testEnv, LEAN_ORIGIN: undefined, LEAN_CONTAINER: singleName(testEnv.OBSERVED, name) };
    const res = await worker.fetch(new Request("https://lean.example/health?x=1") as Parameters<typeof worker.fetch>[0], e as unknown as Env);
    expect(res.status).toBe(200);
    expect(await res.json<Echo>()).toMatchObject({ method: "GET", path: "/health" });
    await runInDurableObject(observed(name), (c: ObservedLeanContainer) => {
      expect(c.fake.requests.filter((r) => !r.startsWith("GET / "))).toEqual(["GET /health -"]);
    });
  });
});

// A namespace whose singleton name maps to `name`, so each test gets a fresh Durable Object.
function singleName(ns: DurableObjectNamespace<ObservedLeanContainer>, name: string): LeanNamespace {
  return {
    idFromName: (n: string) => ns.idFromName(n === SINGLETON_NAME ? name : `${name}/${n}`),
    get: (id: DurableObjectId) => ns.get(id) as unknown as InstanceStub,
  };
}

describe("instances", () => {
  function recordingNamespace() {
    const names: string[] = [];
    const ns: LeanNamespace = {
      idFromName: (n: string) => {
        names.push(n);
        return { toString: () => n, name: n, equals: () => false } as unknown as DurableObjectId;
      },
      get: (id: DurableObjectId) => ({
        fetch: async () => new Response(JSON.stringify({ instance: id.toString() }), { headers: { "Content-Type": "application/json" } }),
      }),
    };
    return { names, ns };
  }

  it("INSTANCES=1 sends every request to the one named instance", async () => {
    const { names, ns } = recordingNamespace();
    for (let i = 0; i < 20; i++) await pickInstance(ns, 1);
    expect(new Set(names)).toEqual(new Set([SINGLETON_NAME]));
    expect(names).toHaveLength(20);
  });

  it("INSTANCES=3 spreads requests over instance-0..2, one instance per request", async () => {
    const { names, ns } = recordingNamespace();
    for (let i = 0; i < 90; i++) await pickInstance(ns, 3);
    expect(names).toHaveLength(90);
    expect(new Set(names)).toEqual(new Set(["instance-0", "instance-1", "instance-2"]));
    for (const n of ["instance-0", "instance-1", "instance-2"]) {
      expect(names.filter((x) => x === n).length).toBeGreaterThan(10);
    }
  });

  it("INSTANCES=3 through the Worker reaches three Durable Objects", async () => {
    const prefix = uniqueName("spread");
    const ns: LeanNamespace = {
      idFromName: (n: string) => testEnv.OBSERVED.idFromName(`${prefix}/${n}`),
      get: (id: DurableObjectId) => testEnv.OBSERVED.get(id) as unknown as InstanceStub,
    };
    const e = { ...testEnv, LEAN_ORIGIN: undefined, LEAN_CONTAINER: ns, INSTANCES: "3" };
    for (let i = 0; i < 45; i++) {
      const res = await worker.fetch(leanPost("#eval 1 + 1", {}, "https://lean.example/") as Parameters<typeof worker.fetch>[0], e as unknown as Env);
      expect(res.status).toBe(200);
    }
    let total = 0;
    for (const n of ["instance-0", "instance-1", "instance-2"]) {
      const posts = await runInDurableObject(observed(`${prefix}/${n}`), (c: ObservedLeanContainer) => c.fake.requests.filter((r) => r.startsWith("POST")).length);
      expect(posts).toBeGreaterThan(0);
      total += posts;
    }
    expect(total).toBe(45);
  });
});
