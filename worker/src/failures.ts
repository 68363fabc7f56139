// Maps container and upstream failures to answers a client can act on:
//   503 + Retry-After: no instance can be had right now (max_instances reached, first-deploy provisioning,
//                      start rate limit); retrying later succeeds without anyone changing anything.
//   502:               the container (or LEAN_ORIGIN) failed: it did not start, crashed, or dropped the request.
// The recognised texts are the ones the Workers runtime and @cloudflare/containers 0.3.7 produce
// (https://github.com/cloudflare/containers/blob/main/src/lib/container.ts, the error answers of
// containerFetch and the runtime error texts it matches).
import { jsonError } from "./http";

export interface Failure {
  status: 502 | 503;
  error: string;
  message: string;
  retryAfter?: number;
}

/** Seconds a client should wait when no instance is available (provisioning takes minutes). */
export const RETRY_AFTER_NO_INSTANCE = 10;
/** Seconds a client should wait after the start rate limit or a dropped connection. */
export const RETRY_AFTER_BRIEF = 2;

function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Classifies an error thrown while obtaining, starting or calling a container (or the LEAN_ORIGIN server). */
export function classifyFailure(e: unknown): Failure {
  const msg = messageOf(e);
  const lower = msg.toLowerCase();
  if (lower.includes("there is no container instance") || lower.includes("no container instance available")) {
    return {
      status: 503,
      error: "no_instance",
      message:
        "No container instance is available: max_instances may be reached, or the application is still being provisioned after its first deploy (this can take several minutes). Retry later.",
      retryAfter: RETRY_AFTER_NO_INSTANCE,
    };
  }
  if (lower.includes("too many containers per second")) {
    return {
      status: 503,
      error: "start_rate_limited",
      message: "Containers are being started faster than the platform allows. Retry shortly.",
      retryAfter: RETRY_AFTER_BRIEF,
    };
  }
  if (lower.includes("durable object is overloaded") || lower.includes("durable object reset")) {
    return {
      status: 503,
      error: "instance_busy",
      message: `The container's Durable Object is busy or restarting (${msg}). Retry shortly.`,
      retryAfter: RETRY_AFTER_BRIEF,
    };
  }
  if (lower.includes("network connection lost") || lower.includes("suddenly disconnected")) {
    return {
      status: 502,
      error: "container_disconnected",
      message: "The container closed the connection without an answer (it may have restarted or run out of memory).",
    };
  }
  return { status: 502, error: "container_failed", message: `The container failed: ${msg}` };
}

export function failureResponse(f: Failure): Response {
  return jsonError(f.status, f.error, f.message, { retryAfter: f.retryAfter });
}

/**
 * Recognises the plain-text error responses that Container.containerFetch builds itself
 * ("There is no Container instance available…" 503, rate limit 429, "Failed to start container: …" 500,
 * "Container suddenly disconnected…" 500, "Error proxying request to container: …" 500) and turns them
 * into JSON failures. Any other response, including every answer of the Lean server, is returned as is.
 */
export async function mapLibraryResponse(res: Response): Promise<Response> {
  if (res.status !== 429 && res.status !== 500 && res.status !== 503) return res;
  if (res.headers.get("Content-Type")?.startsWith("application/json")) return res;
  const text = await res.text();
  const known = [
    "There is no Container instance available",
    "Failed to start container:",
    "Container suddenly disconnected",
    "Error proxying request to container:",
  ];
  if (res.status === 429 || known.some((k) => text.startsWith(k))) {
    const f = classifyFailure(new Error(res.status === 429 ? `too many containers per second: ${text}` : text));
    return failureResponse(f);
  }
  return new Response(text, res);
}
