// The backends the container entry point forwards to: the LeanContainer instances (one Durable Object per
// instance, with admission control), and what an instance forwards to when LEAN_ORIGIN is set. They live
// apart from container.ts because a Worker's main module may export only handlers and Durable Object
// classes: workerd refuses to start a module that exports anything else.
import { jsonError } from "./http";
import { INSTANCE_HEADER, type Upstream } from "./instance";
import type { LeanBackend } from "./routing";
import { containerSettings, DEFAULTS, type ContainerSettings, type LeanVars } from "./settings";

/** The Lean server's port in ghcr.io/ldct/lean4-server. */
export const LEAN_PORT = 8000;

/** The name of the one instance used when INSTANCES = 1 (the @cloudflare/containers singleton name). */
export const SINGLETON_NAME = "cf-singleton-container";


/** What the router needs of an instance's Durable Object stub. */
export interface InstanceStub {
  fetch(request: Request): Promise<Response>;
}

/** The least of a Durable Object namespace the router uses (so tests can observe the choice). */
export interface LeanNamespace {
  idFromName(name: string): DurableObjectId;
  get(id: DurableObjectId): InstanceStub;
}

/**
 * The instances one request may try, in order: the named singleton when instances = 1, else up to
 * tries distinct names of "instance-0" … "instance-(N-1)" (the names getRandom of
 * @cloudflare/containers uses) in random order. Trying another instance when the first is full is the
 * "power of two choices": far fewer refusals under load than one random pick.
 */
export function instanceNames(instances: number, random: () => number = Math.random, tries: number = DEFAULTS.instanceTries): string[] {
  if (instances === 1) return [SINGLETON_NAME];
  const all = Array.from({ length: instances }, (_, i) => i);
  const picked: string[] = [];
  for (let k = 0; k < Math.min(tries, instances); k++) {
    const j = k + Math.floor(random() * (instances - k));
    [all[k], all[j]] = [all[j], all[k]];
    picked.push(`instance-${all[k]}`);
  }
  return picked;
}

/** The stub of the instance a request goes to first (health probes go there only). */
export function pickInstance(ns: LeanNamespace, instances: number, random: () => number = Math.random): InstanceStub {
  return ns.get(ns.idFromName(instanceNames(instances, random)[0]));
}

function leanRequest(url: string, instance: string, program: Uint8Array | null, timeoutSeconds?: number, signal?: AbortSignal): Request {
  if (program === null) return new Request(url, { method: "GET", signal, headers: { [INSTANCE_HEADER]: instance } });
  // A buffered body: the Lean server reads exactly Content-Length bytes and treats a chunked body as empty.
  return new Request(url, {
    method: "POST",
    body: program,
    signal,
    headers: { "Content-Type": "text/plain; charset=utf-8", "X-Lean-Timeout": String(timeoutSeconds), [INSTANCE_HEADER]: instance },
  });
}

/** Whether an instance refused a request because its slots and queue are full (worth another instance). */
async function refusedFull(res: Response): Promise<boolean> {
  if (res.status !== 429 || !res.headers.get("Content-Type")?.startsWith("application/json")) return false;
  try {
    return (await res.clone().json<{ error?: string }>()).error === "queue_full";
  } catch {
    return false;
  }
}

type Limits = Pick<ContainerSettings, "instances" | "containerStartTimeoutMs" | "queueTimeoutMs"> & Partial<Pick<ContainerSettings, "instanceTries">>;

/** Forwards to the LeanContainer instances through their Durable Object binding. */
export function containerBackend(ns: LeanNamespace, s: Limits, random: () => number = Math.random): LeanBackend {
  // The Durable Object sees exactly "/" or "/health"; the host is not used by the Lean server.
  return {
    async evaluate(program, timeout, signal) {
      let res: Response | undefined;
      for (const name of instanceNames(s.instances, random, s.instanceTries)) {
        res = await ns.get(ns.idFromName(name)).fetch(leanRequest("http://lean-container/", name, program, timeout, signal));
        if (!(await refusedFull(res))) return res;
      }
      return res!;
    },
    health(signal) {
      const name = instanceNames(s.instances, random)[0];
      return ns.get(ns.idFromName(name)).fetch(leanRequest("http://lean-container/health", name, null, undefined, signal));
    },
    // An evaluation may wait for a slot and then for a cold start before the Lean server sees it.
    overheadMs: s.queueTimeoutMs + s.containerStartTimeoutMs,
  };
}

/** The request as the container gets it: the internal instance header removed, the given signal attached. */
export function withoutInstance(req: Request, signal: AbortSignal): Request {
  const out = new Request(req, { signal });
  out.headers.delete(INSTANCE_HEADER);
  return out;
}

/**
 * What an instance forwards to when LEAN_ORIGIN is set (development): the origin's Lean server, told
 * which instance sends (INSTANCE_HEADER) so one double can act as several instances.
 */
export function originUpstream(origin: URL): Upstream {
  return {
    ready: async () => undefined,
    async send(req, signal) {
      const path = new URL(req.url).pathname;
      const headers = new Headers();
      for (const h of ["Content-Type", "X-Lean-Timeout", INSTANCE_HEADER]) {
        const v = req.headers.get(h);
        if (v !== null) headers.set(h, v);
      }
      try {
        // Buffered, so the Lean server gets a Content-Length.
        const body = req.method === "POST" ? await req.arrayBuffer() : undefined;
        return await fetch(new URL(path, origin).href, { method: req.method, headers, body, signal });
      } catch (e) {
        if (signal.aborted) throw e;
        return jsonError(502, "origin_unreachable", `LEAN_ORIGIN ${origin.origin} gave no answer: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
  };
}

/** The backend the container entry point uses for env: its LeanContainer instances (LEAN_ORIGIN or not). */
export function backendFor(env: Env): LeanBackend {
  return containerBackend(env.LEAN_CONTAINER, containerSettings(env));
}

/**
 * In development (LEAN_ORIGIN set, e.g. workerd without a container engine) the runtime gives the
 * instance no container, and @cloudflare/containers refuses to construct without one. The instance then
 * gets one that is never running and cannot start: its requests go to LEAN_ORIGIN, through the same
 * admission control and bounds as in production. With a real container, ctx is returned unchanged.
 */
export function withoutContainerForOrigin<S extends DurableObjectState<{}>>(ctx: S, env: LeanVars): S {
  if (ctx.container !== undefined || String(env.LEAN_ORIGIN ?? "").trim() === "") return ctx;
  const none = (): never => {
    throw new Error("this instance has no container: LEAN_ORIGIN is set, so requests go to that origin");
  };
  const inert = {
    running: false,
    start: none,
    monitor: () => Promise.reject(new Error("no container")),
    destroy: async () => {},
    signal: () => {},
    getTcpPort: none,
    setInactivityTimeout: async () => {},
    interceptOutboundHttp: async () => {},
    interceptAllOutboundHttp: async () => {},
    interceptOutboundHttps: async () => {},
  };
  Object.defineProperty(ctx, "container", { value: inert, configurable: true });
  return ctx;
}
