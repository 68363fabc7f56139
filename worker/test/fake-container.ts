// A stand-in for the Workers runtime's container API (ctx.container) so the real LeanContainer and
// @cloudflare/containers code runs in workerd without Docker, with every call observed:
//   - start() marks it running; its TCP port forwards HTTP to PORT_8000_URL (the echo origin in tests),
//     after an optional start-up delay during which the port answers "not listening" like the runtime;
//   - signal(15) is recorded and ignored, like the Lean image's PID 1 (python3, no SIGTERM handler);
//     SIGKILL (9) and SIGINT (2) end it; destroy() ends it (SIGKILL);
//   - startError makes start() fail the way the runtime does (e.g. no instance available).
import { LeanContainer } from "../src/container";
import { containerSettings, type LeanVars } from "../src/settings";

export interface ContainerEvent {
  /** Date.now() when the call happened. */
  at: number;
  op: "start" | "signal" | "destroy" | "exit";
  signal?: number;
}

const SIGINT = 2;
const SIGKILL = 9;

export class FakeContainer {
  running = false;
  readonly events: ContainerEvent[] = [];
  /** Milliseconds after start() during which port 8000 is not listening yet. */
  startDelayMs = 0;
  /** When set, the port refuses every connection with this error (the runtime's wording). */
  portError?: string;
  /** When set, start() throws this error (the runtime's wording). */
  startError?: string;
  /** Every request that reached the port, as "METHOD path content-length". */
  readonly requests: string[] = [];

  private startedAt = 0;
  private exited?: () => void;
  private monitored?: Promise<void>;

  /** @param upstream where port 8000 forwards (tests may point it elsewhere before the first request) */
  constructor(public upstream: string) {}

  get images(): Record<string, string> {
    return {};
  }

  start(_options?: unknown): void {
    this.events.push({ at: Date.now(), op: "start" });
    if (this.startError !== undefined) throw new Error(this.startError);
    this.running = true;
    this.startedAt = Date.now();
    this.monitored = new Promise<void>((resolve) => {
      this.exited = resolve;
    });
  }

  monitor(): Promise<void> {
    return this.monitored ?? Promise.reject(new Error("monitor() called on a container that was never started"));
  }

  async destroy(_error?: unknown): Promise<void> {
    this.events.push({ at: Date.now(), op: "destroy", signal: SIGKILL });
    this.exit();
  }

  signal(signo: number): void {
    this.events.push({ at: Date.now(), op: "signal", signal: signo });
    if (signo === SIGKILL || signo === SIGINT) this.exit();
    // SIGTERM: PID 1 without a handler ignores it; the process keeps running.
  }

  private exit(): void {
    if (!this.running) return;
    this.running = false;
    this.events.push({ at: Date.now(), op: "exit" });
    this.exited?.();
  }

  getTcpPort(port: number): Fetcher {
    const fetchPort = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      if (!this.running) throw new Error(`the container is not running, port ${port} is not reachable`);
      if (this.portError !== undefined) throw new Error(this.portError);
      if (Date.now() - this.startedAt < this.startDelayMs) {
        throw new Error(`the container is not listening in the TCP address 10.0.0.1:${port}`);
      }
      const req = new Request(input, init);
      const url = new URL(req.url);
      this.requests.push(`${req.method} ${url.pathname} ${req.headers.get("Content-Length") ?? "-"}`);
      return fetch(new Request(new URL(url.pathname + url.search, this.upstream), req));
    };
    return { fetch: fetchPort, connect: () => { throw new Error("connect is not supported by the fake"); } } as unknown as Fetcher;
  }

  async setInactivityTimeout(_ms: number | bigint): Promise<void> {}
  async interceptOutboundHttp(): Promise<void> {}
  async interceptAllOutboundHttp(): Promise<void> {}
  async interceptOutboundHttps(): Promise<void> {}
}

/**
 * Gives ctx the fake as its container. The runtime only accepts its own DurableObjectState, so the
 * property is defined on that object (without containers enabled, the runtime leaves it undefined).
 */
function withContainer<S extends DurableObjectState<{}>>(ctx: S, fake: FakeContainer): S {
  Object.defineProperty(ctx, "container", { value: fake, configurable: true });
  return ctx;
}

interface TestEnv {
  PORT_8000_URL: string;
}

/**
 * The real LeanContainer, running on a FakeContainer that tests can inspect with runInDurableObject. It
 * is in container mode (LEAN_ORIGIN unset) unless configure() sets LEAN_ORIGIN.
 */
export class ObservedLeanContainer extends LeanContainer {
  readonly fake: FakeContainer;

  constructor(ctx: DurableObjectState<{}>, env: Env) {
    const fake = new FakeContainer((env as unknown as TestEnv).PORT_8000_URL);
    super(withContainer(ctx, fake), { ...env, LEAN_ORIGIN: undefined } as unknown as Env);
    this.fake = fake;
  }

  /** Reads the settings again from the Worker's variables with vars on top (before the first request). */
  configure(vars: LeanVars): void {
    this.settings = containerSettings({ ...(this.env as LeanVars), ...vars });
    this.gate = undefined;
  }
}
