// Settings read from the Worker's variables (wrangler.jsonc "vars") and secrets.
// Every setting has a documented default; a value that cannot be used is a SettingsError that
// names the variable and the accepted values, answered as a 500 JSON error (never ignored).

import { IDLE_STOP_SIGNALS, INT_VARS, QUEUE_PER_SLOT, SLEEP_AFTER_DEFAULT, type IntSpec } from "./spec.generated";

/** The variables both entry points read. wrangler may pass a JSON var as a number or boolean. */
export interface LeanVars {
  /** Secret. When set, POST / (and GET /health with HEALTH_REQUIRES_KEY) needs this key. */
  LEAN_API_KEY?: string;
  /** Upper bound in seconds for X-Lean-Timeout. Range and default: INT_VARS.maxLeanTimeout. */
  MAX_LEAN_TIMEOUT?: string | number;
  /** Largest accepted request body in bytes. Range and default: INT_VARS.maxBodyBytes. */
  MAX_BODY_BYTES?: string | number;
  /** "true" makes GET /health require the API key too. Default "false". */
  HEALTH_REQUIRES_KEY?: string | boolean;
  /** Origins allowed by CORS: "*" or a comma-separated list of origins. Default "" (CORS off). */
  CORS_ORIGINS?: string;
  /** Container mode: 1 = one named instance; N > 1 spreads requests over N instances. Range and default: INT_VARS.instances. */
  INSTANCES?: string | number;
  /** Development only: forward to this HTTP origin instead of the container. Default unset. */
  LEAN_ORIGIN?: string;
  /** Container mode: idle time before the instance is stopped ("30s", "2m", "1h" or seconds). Default "2m". */
  SLEEP_AFTER?: string | number;
  /** Container mode: seconds to wait for port 8000 after a start. Range and default: INT_VARS.containerStartTimeoutSeconds. */
  CONTAINER_START_TIMEOUT?: string | number;
  /** Container mode: how an idle instance is stopped: "SIGKILL" (default), "SIGTERM" or "SIGINT". */
  IDLE_STOP_SIGNAL?: string;
  /** Seconds an evaluation may wait for the Lean server beyond its X-Lean-Timeout. Range and default: INT_VARS.upstreamGraceSeconds. */
  UPSTREAM_GRACE?: string | number;
  /** Container mode: evaluations running at once per instance. Range and default: INT_VARS.maxConcurrent. */
  MAX_CONCURRENT?: string | number;
  /** Container mode: evaluations waiting for a slot per instance. Range and default: INT_VARS.maxQueue. */
  MAX_QUEUE?: string | number;
  /** Container mode: seconds an evaluation waits for a slot. Range and default: INT_VARS.queueTimeoutSeconds. */
  QUEUE_TIMEOUT?: string | number;
  /** Container mode, INSTANCES > 1: instances a request tries when refused with queue_full. Range and default: INT_VARS.instanceTries. */
  INSTANCE_TRIES?: string | number;
}

/**
 * Defaults of the settings. Those of the variables come from ./spec.generated (generated from lean4-cf's
 * Go table, so the CLI's checks and the Worker agree); the rest are the Worker's own.
 */
export const DEFAULTS = {
  maxLeanTimeout: INT_VARS.maxLeanTimeout.default,
  maxBodyBytes: INT_VARS.maxBodyBytes.default,
  instances: INT_VARS.instances.default,
  sleepAfter: SLEEP_AFTER_DEFAULT,
  containerStartTimeoutSeconds: INT_VARS.containerStartTimeoutSeconds.default,
  idleStopSignal: IDLE_STOP_SIGNALS[0],
  /** The Lean server's own default (LEAN_TIMEOUT) when a request names no timeout. */
  serverDefaultTimeout: 30,
  upstreamGraceSeconds: INT_VARS.upstreamGraceSeconds.default,
  /**
   * Evaluations at once per instance when MAX_CONCURRENT is unset: the default instance type's capacity
   * (lean4-cf renders the value for the chosen instance type at deploy).
   */
  maxConcurrent: INT_VARS.maxConcurrent.default,
  /** MAX_QUEUE is this many times MAX_CONCURRENT when unset. */
  queuePerSlot: QUEUE_PER_SLOT,
  queueTimeoutSeconds: INT_VARS.queueTimeoutSeconds.default,
  instanceTries: INT_VARS.instanceTries.default,
  /** The bound on a health probe: the Lean server's own limit on `lean --version`. */
  healthTimeoutSeconds: 10,
} as const;

export type StopSignal = (typeof IDLE_STOP_SIGNALS)[number];

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

/** A whole-number variable read with its generated range; def overrides the spec's default (MAX_QUEUE). */
function intSetting(spec: IntSpec, v: unknown, def: number = spec.default): number {
  if (!present(v)) return def;
  const { name, min, max, unit } = spec;
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
  const known = IDLE_STOP_SIGNALS.find((sig) => sig === s);
  if (known !== undefined) return known;
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
    maxLeanTimeout: intSetting(INT_VARS.maxLeanTimeout, vars.MAX_LEAN_TIMEOUT),
    maxBodyBytes: intSetting(INT_VARS.maxBodyBytes, vars.MAX_BODY_BYTES),
    healthRequiresKey: boolSetting("HEALTH_REQUIRES_KEY", vars.HEALTH_REQUIRES_KEY),
    corsOrigins: corsSetting(vars.CORS_ORIGINS),
    upstreamGraceSeconds: upstreamGraceSetting(vars),
  };
}

function upstreamGraceSetting(vars: LeanVars): number {
  return intSetting(INT_VARS.upstreamGraceSeconds, vars.UPSTREAM_GRACE);
}

export function containerSettings(vars: LeanVars): ContainerSettings {
  const maxConcurrent = intSetting(INT_VARS.maxConcurrent, vars.MAX_CONCURRENT);
  return {
    instances: intSetting(INT_VARS.instances, vars.INSTANCES),
    leanOrigin: originSetting(vars.LEAN_ORIGIN),
    sleepAfter: sleepAfterSetting(vars.SLEEP_AFTER),
    containerStartTimeoutMs:
      intSetting(INT_VARS.containerStartTimeoutSeconds, vars.CONTAINER_START_TIMEOUT) * 1000,
    idleStopSignal: signalSetting(vars.IDLE_STOP_SIGNAL),
    maxConcurrent,
    maxQueue: intSetting(INT_VARS.maxQueue, vars.MAX_QUEUE, QUEUE_PER_SLOT * maxConcurrent),
    queueTimeoutMs: intSetting(INT_VARS.queueTimeoutSeconds, vars.QUEUE_TIMEOUT) * 1000,
    upstreamGraceSeconds: upstreamGraceSetting(vars),
    instanceTries: intSetting(INT_VARS.instanceTries, vars.INSTANCE_TRIES),
  };
}
