// Small HTTP helpers shared by both entry points: JSON errors, CORS and the API-key check.
import type { RouteSettings } from "./settings";

/** Every error the Worker itself produces has this shape, so a client can branch on `error`. */
export interface ErrorBody {
  ok: false;
  /** A stable machine-readable code, e.g. "body_too_large". */
  error: string;
  /** One sentence for a human: what went wrong and what to do. */
  message: string;
  /** Seconds to wait before retrying, on 503 answers (also sent as Retry-After). */
  retryAfter?: number;
}

export function jsonError(status: number, error: string, message: string, init: { retryAfter?: number; headers?: HeadersInit } = {}): Response {
  const body: ErrorBody = { ok: false, error, message };
  const headers = new Headers(init.headers);
  headers.set("Content-Type", "application/json; charset=utf-8");
  headers.set("Cache-Control", "no-store");
  if (init.retryAfter !== undefined) {
    body.retryAfter = init.retryAfter;
    headers.set("Retry-After", String(init.retryAfter));
  }
  return new Response(JSON.stringify(body), { status, headers });
}

export const ALLOWED_METHODS = "GET, POST, OPTIONS";
export const ALLOWED_HEADERS = "Authorization, Content-Type, X-API-Key, X-Lean-Timeout";
export const EXPOSED_HEADERS = "Retry-After";

/** The Access-Control-Allow-Origin value for this request, or undefined when CORS does not apply. */
export function allowedOrigin(request: Request, settings: RouteSettings): string | undefined {
  const origin = request.headers.get("Origin");
  if (origin === null) return undefined;
  if (settings.corsOrigins === "*") return "*";
  return settings.corsOrigins.includes(origin) ? origin : undefined;
}

/** Returns res with the CORS headers for this request added (a copy: fetched responses are immutable). */
export function withCors(res: Response, origin: string | undefined, settings: RouteSettings): Response {
  if (settings.corsOrigins !== "*" && settings.corsOrigins.length === 0) return res;
  const out = new Response(res.body, res);
  if (settings.corsOrigins !== "*") out.headers.append("Vary", "Origin");
  if (origin !== undefined) {
    out.headers.set("Access-Control-Allow-Origin", origin);
    out.headers.set("Access-Control-Expose-Headers", EXPOSED_HEADERS);
  }
  return out;
}

/** The answer to an OPTIONS request on a known route: 204, with the preflight headers when the origin is allowed. */
export function preflight(origin: string | undefined): Response {
  const headers = new Headers({ Allow: ALLOWED_METHODS });
  if (origin !== undefined) {
    headers.set("Access-Control-Allow-Methods", ALLOWED_METHODS);
    // Only the headers the Worker reads are granted; a browser blocks a request that needs others.
    headers.set("Access-Control-Allow-Headers", ALLOWED_HEADERS);
    headers.set("Access-Control-Max-Age", "86400");
  }
  return new Response(null, { status: 204, headers });
}

/** The key the client presented: `Authorization: Bearer KEY` or `X-API-Key: KEY`. */
export function presentedKey(request: Request): string | undefined {
  const auth = request.headers.get("Authorization");
  if (auth !== null) {
    const m = /^Bearer[ \t]+(.+)$/i.exec(auth.trim());
    if (m) return m[1].trim();
  }
  const key = request.headers.get("X-API-Key");
  return key !== null ? key.trim() : undefined;
}

const encoder = new TextEncoder();

/**
 * Compares two secrets in constant time. Both are hashed first so that neither the length nor the
 * position of the first difference shows in the time taken (timingSafeEqual needs equal lengths).
 */
export async function sameSecret(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  return crypto.subtle.timingSafeEqual(ha, hb);
}
