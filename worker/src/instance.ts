// What one instance's Durable Object does with a request, in both modes (a container, or LEAN_ORIGIN in
// development): GET /health goes straight through, bounded at DEFAULTS.healthTimeoutSeconds; an
// evaluation takes a slot from the instance's Admission (or is refused with 429/503), waits at most its
// X-Lean-Timeout plus UPSTREAM_GRACE for the Lean server (then 504), and frees its slot as soon as it has
// an answer, its bound passes or the client goes away.
import { refusalResponse, type Admission } from "./admission";
import { evaluationTimeout, healthTimeout, realTimers, withDeadline, type Timers } from "./bounds";
import { DEFAULTS } from "./settings";

/** The header the Worker names the chosen instance with, forwarded to LEAN_ORIGIN only (development). */
export const INSTANCE_HEADER = "X-Lean4cf-Instance";

export interface Upstream {
  /** Makes the Lean server ready (starts the container); answers a failure, or undefined when ready. */
  ready(signal: AbortSignal): Promise<Response | undefined>;
  /** Sends the request to the Lean server. */
  send(request: Request, signal: AbortSignal): Promise<Response>;
}

export interface InstanceOptions {
  admission: Admission;
  upstreamGraceSeconds: number;
  /** Default DEFAULTS.healthTimeoutSeconds * 1000. */
  healthTimeoutMs?: number;
  timers?: Timers;
}

/** The timeout the Worker forwarded (already clamped to MAX_LEAN_TIMEOUT), or the Lean server's default. */
function forwardedTimeout(request: Request): number {
  const v = request.headers.get("X-Lean-Timeout");
  return v !== null && /^\d+$/.test(v.trim()) ? Number(v.trim()) : DEFAULTS.serverDefaultTimeout;
}

export async function serveInstance(request: Request, upstream: Upstream, o: InstanceOptions): Promise<Response> {
  const timers = o.timers ?? realTimers;
  const url = new URL(request.url);
  if (request.method === "GET" && url.pathname === "/health") {
    const failed = await upstream.ready(request.signal);
    if (failed !== undefined) return failed;
    const ms = o.healthTimeoutMs ?? DEFAULTS.healthTimeoutSeconds * 1000;
    return withDeadline(ms, request.signal, (signal) => upstream.send(request, signal), () => healthTimeout(ms / 1000), timers);
  }
  const got = await o.admission.acquire(request.signal);
  if (typeof got === "string") return refusalResponse(got, o.admission.limits);
  try {
    const failed = await upstream.ready(request.signal);
    if (failed !== undefined) return failed;
    const seconds = forwardedTimeout(request);
    const grace = o.upstreamGraceSeconds;
    // The answer is read whole inside the bound: the slot is held until it is complete (the Lean server
    // writes it at once) and is freed even when the client reads slowly.
    const buffered = async (signal: AbortSignal) => {
      const res = await upstream.send(request, signal);
      return new Response(await res.arrayBuffer(), res);
    };
    return await withDeadline((seconds + grace) * 1000, request.signal, buffered, () => evaluationTimeout(seconds, grace), timers);
  } finally {
    got.release();
  }
}
