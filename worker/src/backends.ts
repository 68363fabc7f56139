// The backends the container entry point forwards to: a LeanContainer instance, or LEAN_ORIGIN.
// They live apart from container.ts because a Worker's main module may export only handlers and
// Durable Object classes: workerd refuses to start a module that exports anything else.
import { Container, getContainer, getRandom } from "@cloudflare/containers";
import { jsonError } from "./http";
import type { LeanBackend } from "./routing";
import { containerSettings } from "./settings";

/** The Lean server's port in ghcr.io/ldct/lean4-server. */
export const LEAN_PORT = 8000;

/** The name of the one instance used when INSTANCES = 1 (the library's singleton name). */
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
 * Picks the instance for one request: the named singleton when instances = 1, else one of
 * "instance-0" … "instance-(N-1)" at random (getRandom), so N instances share the load.
 */
export async function pickInstance(ns: LeanNamespace, instances: number): Promise<InstanceStub> {
  // The library's helpers only call idFromName and get; the cast narrows their generic signature.
  const binding = ns as unknown as DurableObjectNamespace<Container>;
  return instances === 1 ? getContainer(binding, SINGLETON_NAME) : getRandom(binding, instances);
}

function leanRequest(url: string, program: Uint8Array | null, timeoutSeconds?: number, signal?: AbortSignal): Request {
  if (program === null) return new Request(url, { method: "GET", signal });
  // A buffered body: the Lean server reads exactly Content-Length bytes and treats a chunked body as empty.
  return new Request(url, {
    method: "POST",
    body: program,
    signal,
    headers: { "Content-Type": "text/plain; charset=utf-8", "X-Lean-Timeout": String(timeoutSeconds) },
  });
}

/** Forwards to a Lean server at an HTTP origin (LEAN_ORIGIN, a development setting). */
export function originBackend(origin: URL): LeanBackend {
  const send = async (req: Request): Promise<Response> => {
    try {
      return await fetch(req);
    } catch (e) {
      return jsonError(502, "origin_unreachable", `LEAN_ORIGIN ${origin.origin} gave no answer: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  return {
    evaluate: (program, timeout, signal) => send(leanRequest(new URL("/", origin).href, program, timeout, signal)),
    health: (signal) => send(leanRequest(new URL("/health", origin).href, null, undefined, signal)),
  };
}

/** Forwards to a LeanContainer instance through its Durable Object binding. */
export function containerBackend(ns: LeanNamespace, instances: number, startTimeoutMs: number): LeanBackend {
  // The Durable Object sees exactly "/" or "/health"; the host is not used by the Lean server.
  return {
    evaluate: async (program, timeout, signal) => (await pickInstance(ns, instances)).fetch(leanRequest("http://lean-container/", program, timeout, signal)),
    health: async (signal) => (await pickInstance(ns, instances)).fetch(leanRequest("http://lean-container/health", null, undefined, signal)),
    overheadMs: startTimeoutMs,
  };
}

/** The backend the container entry point uses for env: LEAN_ORIGIN when set, else the container binding. */
export function backendFor(env: Env): LeanBackend {
  const s = containerSettings(env);
  return s.leanOrigin !== undefined ? originBackend(s.leanOrigin) : containerBackend(env.LEAN_CONTAINER, s.instances, s.containerStartTimeoutMs);
}
