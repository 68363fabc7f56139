// Settings read from the Worker's variables (wrangler.jsonc "vars") and secrets.
// Every setting has a documented default; a value that cannot be used is a SettingsError that
// names the variable and the accepted values, answered as a 500 JSON error (never ignored).

/** The variables both entry points read. wrangler may pass a JSON var as a number or boolean. */
export interface LeanVars {
  /** Secret. When set, POST / (and GET /health with HEALTH_REQUIRES_KEY) needs this key. */
  LEAN_API_KEY?: string;
  /** Upper bound in seconds for X-Lean-Timeout, 1..3600. Default 60. */
  MAX_LEAN_TIMEOUT?: string | number;
  /** Largest accepted request body in bytes, 1..104857600. Default 1048576 (1 MiB). */
  MAX_BODY_BYTES?: string | number;
  /** "true" makes GET /health require the API key too. Default "false". */
  HEALTH_REQUIRES_KEY?: string | boolean;
  /** Origins allowed by CORS: "*" or a comma-separated list of origins. Default "" (CORS off). */
  CORS_ORIGINS?: string;
  /** Container mode: 1 = one named instance; N > 1 spreads requests over N instances. Default 1. */
  INSTANCES?: string | number;
  /** Development only: forward to this HTTP origin instead of the container. Default unset. */
  LEAN_ORIGIN?: string;
  /** Container mode: idle time before the instance is stopped ("30s", "2m", "1h" or seconds). Default "2m". */
  SLEEP_AFTER?: string | number;
  /** Container mode: seconds to wait for port 8000 after a start, 1..3600. Default 120. */
  CONTAINER_START_TIMEOUT?: string | number;
  /** Container mode: how an idle instance is stopped: "SIGKILL" (default), "SIGTERM" or "SIGINT". */
  IDLE_STOP_SIGNAL?: string;
  /** Seconds an evaluation may wait for the Lean server beyond its X-Lean-Timeout, 0..600. Default 10. */
  UPSTREAM_GRACE?: string | number;
  /** Container mode: evaluations running at once per instance, 1..1000. Default 2 (rendered per instance type at deploy). */
  MAX_CONCURRENT?: string | number;
  /** Container mode: evaluations waiting for a slot per instance, 0..10000. Default 2 x MAX_CONCURRENT. */
  MAX_QUEUE?: string | number;
  /** Container mode: seconds an evaluation waits for a slot, 1..3600. Default 10. */
  QUEUE_TIMEOUT?: string | number;
  /** Container mode, INSTANCES > 1: instances a request tries when refused with queue_full, 1..3. Default 3. */
  INSTANCE_TRIES?: string | number;
}

export const DEFAULTS = {
  maxLeanTimeout: 60,
  maxBodyBytes: 1024 * 1024,
  instances: 1,
  sleepAfter: "2m",
  containerStartTimeoutSeconds: 120,
  idleStopSignal: "SIGKILL",
  /** The Lean server's own default (LEAN_TIMEOUT) when a request names no timeout. */
  serverDefaultTimeout: 30,
  upstreamGraceSeconds: 10,
  /**
   * Evaluations at once per instance when MAX_CONCURRENT is unset: standard-1's value (lean4-cf renders
   * the value for the chosen instance type: the smaller of its memory ceiling and 4 runs per vCPU).
   */
  maxConcurrent: 2,
  /** MAX_QUEUE is this many times MAX_CONCURRENT when unset. */
  queuePerSlot: 2,
  queueTimeoutSeconds: 10,
  /** The first instance and two others: the "power of two choices", and one more. */
  instanceTries: 3,
  /** The bound on a health probe: the Lean server's own limit on `lean --version`. */
  healthTimeoutSeconds: 10,
} as const;

export type StopSignal = "SIGKILL" | "SIGTERM" | "SIGINT";

/** Settings shared by the stub and container entry points. */
export interface RouteSettings {
  apiKey?: string;
  maxLeanTimeout: number;
  maxBodyBytes: number;
  healthRequiresKey: boolean;
  /** "*" allows every origin; an empty list turns CORS off. */
  corsOrigins: "*" | string[];
  /** How long an evaluation may wait for the Lean server beyond its X-Lean-Timeout. */
  upstreamGraceSeconds: number;
}

/** Settings of the container entry point and the LeanContainer class. */
export interface ContainerSettings {
  instances: number;
  leanOrigin?: URL;
  sleepAfter: string | number;
  containerStartTimeoutMs: number;
  idleStopSignal: StopSignal;
  maxConcurrent: number;
  maxQueue: number;
  queueTimeoutMs: number;
  upstreamGraceSeconds: number;
  instanceTries: number;
}

export class SettingsError extends Error {
  override name = "SettingsError";
}

function present(v: unknown): v is string | number | boolean {
  return v !== undefined && v !== null && String(v).trim() !== "";
}

function intSetting(name: string, v: unknown, def: number, min: number, max: number, unit: string): number {
  if (!present(v)) return def;
  const s = String(v).trim();
  if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) {
    throw new SettingsError(`${name} is ${JSON.stringify(String(v))}: set a whole number of ${unit} from ${min} to ${max}`);
  }
  return Number(s);
}

function boolSetting(name: string, v: unknown): boolean {
  if (!present(v)) return false;
  const s = String(v).trim().toLowerCase();
  if (s === "true" || s === "1") return true;
  if (s === "false" || s === "0") return false;
  throw new SettingsError(`${name} is ${JSON.stringify(String(v))}: set "true" or "false"`);
}

function corsSetting(v: unknown): "*" | string[] {
  if (!present(v)) return [];
  const s = String(v).trim();
  if (s === "*") return "*";
  return s
    .split(",")
    .map((o) => o.trim())
    .filter((o) => o !== "")
    .map((o) => {
      let u: URL;
      try {
        u = new URL(o);
      } catch {
        throw new SettingsError(`CORS_ORIGINS has ${JSON.stringify(o)}: list origins like https://app.example.com, or "*"`);
      }
      if (u.origin === "null" || u.origin !== o.replace(/\/$/, "")) {
        throw new SettingsError(`CORS_ORIGINS has ${JSON.stringify(o)}: list origins (scheme://host[:port]) without a path, or "*"`);
      }
      return u.origin;
    });
}

/** The formats @cloudflare/containers accepts for sleepAfter: "<n>s", "<n>m", "<n>h" or seconds. */
export function sleepAfterSetting(v: unknown): string | number {
  if (!present(v)) return DEFAULTS.sleepAfter;
  const s = String(v).trim();
  if (/^\d+$/.test(s) && Number(s) > 0) return Number(s);
  if (/^[1-9]\d*[smh]$/.test(s)) return s;
  throw new SettingsError(`SLEEP_AFTER is ${JSON.stringify(String(v))}: set a duration like "30s", "2m" or "1h"`);
}

function signalSetting(v: unknown): StopSignal {
  if (!present(v)) return DEFAULTS.idleStopSignal;
  const s = String(v).trim().toUpperCase();
  if (s === "SIGKILL" || s === "SIGTERM" || s === "SIGINT") return s;
  throw new SettingsError(`IDLE_STOP_SIGNAL is ${JSON.stringify(String(v))}: set "SIGKILL" (the default), "SIGTERM" or "SIGINT"`);
}

function originSetting(v: unknown): URL | undefined {
  if (!present(v)) return undefined;
  const s = String(v).trim();
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new SettingsError(`LEAN_ORIGIN is ${JSON.stringify(s)}: set an origin like http://127.0.0.1:8000`);
  }
  if ((u.protocol !== "http:" && u.protocol !== "https:") || u.pathname !== "/" || u.search !== "" || u.hash !== "") {
    throw new SettingsError(`LEAN_ORIGIN is ${JSON.stringify(s)}: set an http(s) origin with no path, like http://127.0.0.1:8000`);
  }
  return u;
}

export function routeSettings(vars: LeanVars): RouteSettings {
  return {
    apiKey: present(vars.LEAN_API_KEY) ? String(vars.LEAN_API_KEY) : undefined,
    maxLeanTimeout: intSetting("MAX_LEAN_TIMEOUT", vars.MAX_LEAN_TIMEOUT, DEFAULTS.maxLeanTimeout, 1, 3600, "seconds"),
    maxBodyBytes: intSetting("MAX_BODY_BYTES", vars.MAX_BODY_BYTES, DEFAULTS.maxBodyBytes, 1, 100 * 1024 * 1024, "bytes"),
    healthRequiresKey: boolSetting("HEALTH_REQUIRES_KEY", vars.HEALTH_REQUIRES_KEY),
    corsOrigins: corsSetting(vars.CORS_ORIGINS),
    upstreamGraceSeconds: upstreamGraceSetting(vars),
  };
}

function upstreamGraceSetting(vars: LeanVars): number {
  return intSetting("UPSTREAM_GRACE", vars.UPSTREAM_GRACE, DEFAULTS.upstreamGraceSeconds, 0, 600, "seconds");
}

export function containerSettings(vars: LeanVars): ContainerSettings {
  const maxConcurrent = intSetting("MAX_CONCURRENT", vars.MAX_CONCURRENT, DEFAULTS.maxConcurrent, 1, 1000, "evaluations");
  return {
    instances: intSetting("INSTANCES", vars.INSTANCES, DEFAULTS.instances, 1, 1000, "instances"),
    leanOrigin: originSetting(vars.LEAN_ORIGIN),
    sleepAfter: sleepAfterSetting(vars.SLEEP_AFTER),
    containerStartTimeoutMs:
      intSetting("CONTAINER_START_TIMEOUT", vars.CONTAINER_START_TIMEOUT, DEFAULTS.containerStartTimeoutSeconds, 1, 3600, "seconds") * 1000,
    idleStopSignal: signalSetting(vars.IDLE_STOP_SIGNAL),
    maxConcurrent,
    maxQueue: intSetting("MAX_QUEUE", vars.MAX_QUEUE, DEFAULTS.queuePerSlot * maxConcurrent, 0, 10000, "evaluations"),
    queueTimeoutMs: intSetting("QUEUE_TIMEOUT", vars.QUEUE_TIMEOUT, DEFAULTS.queueTimeoutSeconds, 1, 3600, "seconds") * 1000,
    upstreamGraceSeconds: upstreamGraceSetting(vars),
    instanceTries: intSetting("INSTANCE_TRIES", vars.INSTANCE_TRIES, DEFAULTS.instanceTries, 1, 3, "instances"),
  };
}
