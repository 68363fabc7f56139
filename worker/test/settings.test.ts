import { describe, expect, it } from "vitest";
import { containerSettings, DEFAULTS, routeSettings, SettingsError } from "../src/settings";

describe("routeSettings", () => {
  it("uses the documented defaults when nothing is set", () => {
    expect(routeSettings({})).toEqual({
      apiKey: undefined,
      maxLeanTimeout: 60,
      maxBodyBytes: 1048576,
      healthRequiresKey: false,
      corsOrigins: [],
      upstreamGraceSeconds: 10,
    });
  });

  it("reads strings, numbers and booleans as wrangler passes them", () => {
    const s = routeSettings({ MAX_LEAN_TIMEOUT: 5, MAX_BODY_BYTES: " 10 ", HEALTH_REQUIRES_KEY: true, LEAN_API_KEY: "k", CORS_ORIGINS: "https://a.example, http://localhost:3000" });
    expect(s).toEqual({ apiKey: "k", maxLeanTimeout: 5, maxBodyBytes: 10, healthRequiresKey: true, corsOrigins: ["https://a.example", "http://localhost:3000"], upstreamGraceSeconds: 10 });
    expect(routeSettings({ UPSTREAM_GRACE: "0" }).upstreamGraceSeconds).toBe(0);
    expect(routeSettings({ CORS_ORIGINS: "*" }).corsOrigins).toBe("*");
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ["timeout not a number", { MAX_LEAN_TIMEOUT: "abc" }, /^MAX_LEAN_TIMEOUT is "abc": set a whole number of seconds from 1 to 3600$/],
    ["timeout zero", { MAX_LEAN_TIMEOUT: "0" }, /MAX_LEAN_TIMEOUT is "0"/],
    ["timeout too large", { MAX_LEAN_TIMEOUT: "3601" }, /MAX_LEAN_TIMEOUT/],
    ["body fraction", { MAX_BODY_BYTES: "1.5" }, /^MAX_BODY_BYTES is "1.5": set a whole number of bytes/],
    ["body over 100 MiB", { MAX_BODY_BYTES: "104857601" }, /MAX_BODY_BYTES/],
    ["bool", { HEALTH_REQUIRES_KEY: "yes" }, /^HEALTH_REQUIRES_KEY is "yes": set "true" or "false"$/],
    ["origin with path", { CORS_ORIGINS: "https://a.example/app" }, /CORS_ORIGINS has "https:\/\/a.example\/app"/],
    ["not an origin", { CORS_ORIGINS: "a.example" }, /CORS_ORIGINS has "a.example"/],
    ["grace with a unit", { UPSTREAM_GRACE: "10s" }, /^UPSTREAM_GRACE is "10s": set a whole number of seconds from 0 to 600$/],
    ["grace too large", { UPSTREAM_GRACE: "601" }, /UPSTREAM_GRACE/],
  ];
  for (const [name, vars, want] of bad) {
    it(`rejects ${name}`, () => {
      expect(() => routeSettings(vars)).toThrowError(SettingsError);
      expect(() => routeSettings(vars)).toThrowError(want);
    });
  }
});

describe("containerSettings", () => {
  it("uses the documented defaults when nothing is set", () => {
    expect(containerSettings({})).toEqual({
      instances: 1,
      leanOrigin: undefined,
      sleepAfter: "2m",
      containerStartTimeoutMs: 120_000,
      idleStopSignal: "SIGKILL",
      maxConcurrent: 2,
      maxQueue: 4,
      queueTimeoutMs: 10_000,
      upstreamGraceSeconds: 10,
      instanceTries: 3,
    });
    expect(DEFAULTS.sleepAfter).toBe("2m");
    expect(containerSettings({ MAX_CONCURRENT: "5" }).maxQueue).toBe(10);
  });

  it("reads every setting", () => {
    const s = containerSettings({ INSTANCES: "3", LEAN_ORIGIN: "http://127.0.0.1:8000", SLEEP_AFTER: "90", CONTAINER_START_TIMEOUT: "30", IDLE_STOP_SIGNAL: "sigterm" });
    expect(s.instances).toBe(3);
    expect(s.leanOrigin?.href).toBe("http://127.0.0.1:8000/");
    expect(s.sleepAfter).toBe(90);
    expect(s.containerStartTimeoutMs).toBe(30_000);
    expect(s.idleStopSignal).toBe("SIGTERM");
    expect(containerSettings({ SLEEP_AFTER: "30s" }).sleepAfter).toBe("30s");
    const a = containerSettings({ MAX_CONCURRENT: 3, MAX_QUEUE: "0", QUEUE_TIMEOUT: " 4 ", UPSTREAM_GRACE: "2" });
    expect([a.maxConcurrent, a.maxQueue, a.queueTimeoutMs, a.upstreamGraceSeconds]).toEqual([3, 0, 4_000, 2]);
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ["zero instances", { INSTANCES: "0" }, /^INSTANCES is "0"/],
    ["sleep with unit typo", { SLEEP_AFTER: "2min" }, /^SLEEP_AFTER is "2min": set a duration like "30s", "2m" or "1h"$/],
    ["sleep zero", { SLEEP_AFTER: "0m" }, /SLEEP_AFTER/],
    ["unknown signal", { IDLE_STOP_SIGNAL: "SIGHUP" }, /^IDLE_STOP_SIGNAL is "SIGHUP"/],
    ["origin with a path", { LEAN_ORIGIN: "http://127.0.0.1:8000/lean" }, /^LEAN_ORIGIN is "http:\/\/127.0.0.1:8000\/lean"/],
    ["origin not http", { LEAN_ORIGIN: "ftp://example.com" }, /LEAN_ORIGIN/],
    ["start timeout", { CONTAINER_START_TIMEOUT: "2m" }, /^CONTAINER_START_TIMEOUT is "2m"/],
    ["no slots", { MAX_CONCURRENT: "0" }, /^MAX_CONCURRENT is "0": set a whole number of evaluations from 1 to 1000$/],
    ["fractional slots", { MAX_CONCURRENT: "1.5" }, /^MAX_CONCURRENT is "1.5"/],
    ["negative queue", { MAX_QUEUE: "-1" }, /^MAX_QUEUE is "-1": set a whole number of evaluations from 0 to 10000$/],
    ["queue timeout zero", { QUEUE_TIMEOUT: "0" }, /^QUEUE_TIMEOUT is "0": set a whole number of seconds from 1 to 3600$/],
    ["queue timeout unit", { QUEUE_TIMEOUT: "10s" }, /^QUEUE_TIMEOUT is "10s"/],
    ["grace negative", { UPSTREAM_GRACE: "-1" }, /^UPSTREAM_GRACE is "-1"/],
    ["tries over three", { INSTANCE_TRIES: "4" }, /^INSTANCE_TRIES is "4": set a whole number of instances from 1 to 3$/],
  ];
  for (const [name, vars, want] of bad) {
    it(`rejects ${name}`, () => {
      expect(() => containerSettings(vars)).toThrowError(want);
    });
  }
});
