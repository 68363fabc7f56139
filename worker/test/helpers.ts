import { env } from "cloudflare:workers";
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
