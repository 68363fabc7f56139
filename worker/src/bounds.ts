// Bounds on every wait for an upstream (the Lean server in a container, or LEAN_ORIGIN): a call gets an
// AbortSignal that fires at its deadline or when the client goes away, and the caller gets an answer at
// the deadline even when the upstream ignores the signal.
import { jsonError } from "./http";

/** Why a bounded call was cancelled at its deadline (the signal's reason). */
export class DeadlineError extends Error {
  override name = "DeadlineError";
}

/** The timers a bound uses; tests may pass their own. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * Runs call with a signal that aborts after ms or when outer aborts. Past ms it answers onTimeout()
 * at once, whether or not call has settled; call's signal is aborted with a DeadlineError.
 */
export async function withDeadline(
  ms: number,
  outer: AbortSignal | undefined,
  call: (signal: AbortSignal) => Promise<Response>,
  onTimeout: () => Response,
  timers: Timers = realTimers,
): Promise<Response> {
  const ctl = new AbortController();
  const forward = () => ctl.abort(outer?.reason);
  if (outer?.aborted) forward();
  outer?.addEventListener("abort", forward);
  let handle: unknown;
  const deadline = new Promise<Response>((resolve) => {
    handle = timers.setTimeout(() => {
      // Settle first: aborting makes a well-behaved call reject, which must not win the race.
      resolve(onTimeout());
      ctl.abort(new DeadlineError(`no answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([call(ctl.signal), deadline]);
  } finally {
    timers.clearTimeout(handle);
    outer?.removeEventListener("abort", forward);
  }
}

/** The 504 an evaluation gets when the Lean server has not answered within its bound. */
export function evaluationTimeout(timeoutSeconds: number, graceSeconds: number): Response {
  return jsonError(
    504,
    "upstream_timeout",
    `The Lean server gave no answer within ${timeoutSeconds + graceSeconds} s (X-Lean-Timeout ${timeoutSeconds} s + UPSTREAM_GRACE ${graceSeconds} s). ` +
      "It may be overloaded or stuck: retry later, or send a smaller program.",
  );
}

/** The 504 a health probe gets when the Lean server has not answered within its bound. */
export function healthTimeout(seconds: number): Response {
  return jsonError(504, "health_timeout", `The Lean server did not answer GET /health within ${seconds} s: it may be starting, overloaded or stuck. Retry later.`);
}
