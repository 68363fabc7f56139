import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { InstanceStub, LeanNamespace } from "../src/backends";
import type { LeanVars } from "../src/settings";
import type { ObservedLeanContainer } from "./fake-container";

/** The test Worker's bindings (test/wrangler.test.jsonc and vitest.config.mts). */
export interface TestEnv extends Env {
  OBSERVED: DurableObjectNamespace<ObservedLeanContainer>;
  LEAN_ORIGIN: string;
  PORT_8000_URL: string;
  LEAN_API_KEY?: string;
}

export const testEnv = env as unknown as TestEnv;

export interface ErrorResult {
  ok: false;
  error: string;
  message: string;
  retryAfter?: number;
}

let seq = 0;
/** A Durable Object name no other test uses. */
export function uniqueName(prefix: string): string {
  seq++;
  return `${prefix}-${seq}-${crypto.randomUUID().slice(0, 8)}`;
}

export function leanPost(program: string, headers: HeadersInit = {}, url = "http://lean-container/"): Request {
  return new Request(url, { method: "POST", body: program, headers });
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * A namespace of fresh observed instances (names prefixed with a unique prefix), each configured with
 * vars before its first request: with LEAN_ORIGIN among them, they forward there as the deployed Worker's
 * instances do in development.
 */
export function configuredNamespace(vars: LeanVars): { ns: LeanNamespace; prefix: string } {
  const prefix = uniqueName("ns");
  const configured = new Map<string, Promise<void>>();
  const ns: LeanNamespace = {
    idFromName: (n: string) => testEnv.OBSERVED.idFromName(`${prefix}/${n}`),
    get: (id: DurableObjectId) => {
      const stub = testEnv.OBSERVED.get(id);
      return {
        async fetch(req: Request) {
          // Every request waits for the one configuration, so none reaches the instance before it.
          let done = configured.get(id.toString());
          if (done === undefined) {
            done = runInDurableObject(stub, (c: ObservedLeanContainer) => c.configure(vars));
            configured.set(id.toString(), done);
          }
          await done;
          return stub.fetch(req);
        },
      } satisfies InstanceStub;
    },
  };
  return { ns, prefix };
}

/** The container entry point with its instances configured with vars (LEAN_ORIGIN included). */
export function viaInstances(req: Request, vars: LeanVars): Promise<Response> {
  const { ns } = configuredNamespace(vars);
  return viaNamespace(req, vars, ns);
}

export async function viaNamespace(req: Request, vars: LeanVars, ns: LeanNamespace): Promise<Response> {
  const { default: worker } = await import("../src/container");
  const e = { ...testEnv, ...vars, LEAN_CONTAINER: ns };
  return worker.fetch(req as Parameters<typeof worker.fetch>[0], e as unknown as Env);
}
