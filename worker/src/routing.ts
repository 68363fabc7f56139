// The routing and request rules shared by the stub and container entry points:
//   POST /        evaluate Lean source (the body) -> backend.evaluate
//   GET  /health  -> backend.health
//   OPTIONS on either route: 204 (plus the CORS preflight headers for an allowed origin)
//   anything else: JSON 404
// Checks, in order: route, CORS preflight, API key, X-Lean-Timeout, body size, UTF-8.
import { evaluationTimeout, healthTimeout, withDeadline } from "./bounds";
import { classifyFailure, failureResponse } from "./failures";
import { allowedOrigin, jsonError, preflight, presentedKey, sameSecret, withCors } from "./http";
import { DEFAULTS, routeSettings, SettingsError, type LeanVars, type RouteSettings } from "./settings";

/** Where a validated request goes: the stub's canned answers, a container, or LEAN_ORIGIN. */
export interface LeanBackend {
  /** Runs `program` (valid UTF-8) with the given timeout and returns the Lean server's answer. */
  evaluate(program: Uint8Array, timeoutSeconds: number, signal: AbortSignal): Promise<Response>;
  /** Returns the Lean server's GET /health answer. */
  health(signal: AbortSignal): Promise<Response>;
  /**
   * The longest the backend may spend before the Lean server sees a request (a queue, a container
   * start), added to each bound. Default 0.
   */
  overheadMs?: number;
}

/** Overrides for tests. */
export interface HandleOptions {
  /** The bound on a health probe. Default DEFAULTS.healthTimeoutSeconds. */
  healthTimeoutMs?: number;
}

type Route = "evaluate" | "health";

function routeOf(pathname: string): Route | undefined {
  if (pathname === "/") return "evaluate";
  if (pathname === "/health") return "health";
  return undefined;
}

const METHOD: Record<Route, string> = { evaluate: "POST", health: "GET" };

/** The X-Lean-Timeout to forward, or an error message for a value that is not an integer. */
export function leanTimeout(header: string | null, max: number): { seconds: number } | { error: string } {
  if (header === null || header.trim() === "") return { seconds: Math.min(DEFAULTS.serverDefaultTimeout, max) };
  const s = header.trim();
  if (!/^[+-]?\d+$/.test(s)) {
    return { error: `X-Lean-Timeout is ${JSON.stringify(header)}: send a whole number of seconds from 1 to ${max}` };
  }
  const n = Number(s); // digits only: finite, or ±Infinity for absurd lengths; both clamp
  return { seconds: Math.min(max, Math.max(1, n)) };
}

/** Reads the whole body, chunked or not, stopping as soon as it passes max bytes. */
export async function readBody(request: Request, max: number): Promise<Uint8Array | "too_large"> {
  const declared = request.headers.get("Content-Length");
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared.trim()) > max) return "too_large";
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel("request body too large").catch(() => {});
      return "too_large";
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Handles one request. makeBackend may throw a SettingsError for a bad variable (answered as a 500). */
export async function handle(request: Request, vars: LeanVars, makeBackend: () => LeanBackend, opts: HandleOptions = {}): Promise<Response> {
  let settings: RouteSettings;
  try {
    settings = routeSettings(vars);
  } catch (e) {
    return misconfigured(e);
  }
  const origin = allowedOrigin(request, settings);
  const res = await route(request, settings, origin, makeBackend, opts);
  return withCors(res, origin, settings);
}

async function route(request: Request, settings: RouteSettings, origin: string | undefined, makeBackend: () => LeanBackend, opts: HandleOptions): Promise<Response> {
  const url = new URL(request.url);
  const r = routeOf(url.pathname);
  if (r === undefined || (request.method !== METHOD[r] && request.method !== "OPTIONS")) {
    return jsonError(404, "not_found", `No route for ${request.method} ${url.pathname}: use POST / with Lean source, or GET /health.`);
  }
  if (request.method === "OPTIONS") return preflight(origin);

  if (settings.apiKey !== undefined && (r === "evaluate" || settings.healthRequiresKey)) {
    const key = presentedKey(request);
    if (key === undefined || !(await sameSecret(key, settings.apiKey))) {
      return jsonError(401, "unauthorized", "Send the API key as `Authorization: Bearer KEY` or `X-API-Key: KEY`.", {
        headers: { "WWW-Authenticate": 'Bearer realm="lean4-cf"' },
      });
    }
  }

  let backend: LeanBackend;
  try {
    backend = makeBackend();
  } catch (e) {
    return misconfigured(e);
  }

  const overhead = backend.overheadMs ?? 0;
  if (r === "health") {
    const ms = opts.healthTimeoutMs ?? DEFAULTS.healthTimeoutSeconds * 1000;
    return callBackend(() => withDeadline(ms + overhead, request.signal, (signal) => backend.health(signal), () => healthTimeout(ms / 1000)));
  }

  const timeout = leanTimeout(request.headers.get("X-Lean-Timeout"), settings.maxLeanTimeout);
  if ("error" in timeout) return jsonError(400, "bad_timeout", timeout.error);
  const body = await readBody(request, settings.maxBodyBytes);
  if (body === "too_large") {
    return jsonError(413, "body_too_large", `The Lean source is larger than MAX_BODY_BYTES (${settings.maxBodyBytes} bytes).`);
  }
  if (!isUtf8(body)) return jsonError(400, "body_not_utf8", "The Lean source must be UTF-8 text.");
  const seconds = timeout.seconds;
  const grace = settings.upstreamGraceSeconds;
  return callBackend(() =>
    withDeadline((seconds + grace) * 1000 + overhead, request.signal, (signal) => backend.evaluate(body, seconds, signal), () => evaluationTimeout(seconds, grace)),
  );
}

async function callBackend(call: () => Promise<Response>): Promise<Response> {
  try {
    return await call();
  } catch (e) {
    return failureResponse(classifyFailure(e));
  }
}

function misconfigured(e: unknown): Response {
  if (e instanceof SettingsError) {
    console.error(`lean4-cf worker: ${e.message}`);
    return jsonError(500, "misconfigured", `The Worker is misconfigured: ${e.message}.`);
  }
  throw e;
}
