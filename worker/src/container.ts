// The container entry point: POST / and GET /health go to an instance of class LeanContainer (one
// Durable Object per instance, with its admission control), whose Lean server runs in a Cloudflare
// container on port 8000, or at LEAN_ORIGIN when that development setting is set (backends.ts);
// everything else is a JSON 404. Shares its rules with the stub (routing.ts).
import { Container } from "@cloudflare/containers";
import { Admission } from "./admission";
import { backendFor, LEAN_PORT, originUpstream, withoutContainerForOrigin, withoutInstance } from "./backends";
import { classifyFailure, failureResponse, mapLibraryResponse } from "./failures";
import { serveInstance, type Upstream } from "./instance";
import { handle } from "./routing";
import { containerSettings, SettingsError, type ContainerSettings, type LeanVars, type StopSignal } from "./settings";

/**
 * One Lean server instance. Settings come from the Worker's variables (see settings.ts):
 * SLEEP_AFTER (default "2m"), CONTAINER_START_TIMEOUT (default 120 s), IDLE_STOP_SIGNAL (default SIGKILL),
 * MAX_CONCURRENT / MAX_QUEUE / QUEUE_TIMEOUT (admission control) and UPSTREAM_GRACE (bounded waits).
 * With LEAN_ORIGIN set (development) it forwards to that origin instead of its container, through the
 * same admission control and bounds.
 */
export class LeanContainer extends Container<Env> {
  override defaultPort = LEAN_PORT;
  // The Lean server needs no outbound network; a container that cannot reach the internet is safer.
  override enableInternet = false;
  settings: ContainerSettings = settingsOrDefaults(this.env);
  override sleepAfter = this.settings.sleepAfter;
  /** Built from settings on first use (tests may change settings before the first request). */
  protected gate?: Admission;

  constructor(ctx: DurableObjectState<{}>, env: Env) {
    super(withoutContainerForOrigin(ctx, env), env);
  }

  get admission(): Admission {
    this.gate ??= new Admission({ maxConcurrent: this.settings.maxConcurrent, maxQueue: this.settings.maxQueue, queueTimeoutMs: this.settings.queueTimeoutMs });
    return this.gate;
  }

  override async fetch(request: Request): Promise<Response> {
    const origin = this.settings.leanOrigin;
    const upstream: Upstream =
      origin !== undefined
        ? originUpstream(origin)
        : {
            ready: (signal) => this.ready(signal),
            send: async (req, signal) => mapLibraryResponse(await super.fetch(withoutInstance(req, signal))),
          };
    return serveInstance(request, upstream, { admission: this.admission, upstreamGraceSeconds: this.settings.upstreamGraceSeconds });
  }

  /**
   * Starts the container if needed, waiting up to CONTAINER_START_TIMEOUT for port 8000 (the library's
   * implicit start gives up after 20 s, too soon for a cold Lean server). Start failures and the
   * library's own error texts become JSON: 503 + Retry-After or 502.
   */
  private async ready(signal: AbortSignal): Promise<Response | undefined> {
    const state = await this.getState();
    if (this.ctx.container?.running && state.status === "healthy") return undefined;
    try {
      await this.startAndWaitForPorts({
        ports: LEAN_PORT,
        cancellationOptions: { portReadyTimeoutMS: this.settings.containerStartTimeoutMs, abort: signal },
      });
      return undefined;
    } catch (e) {
      return failureResponse(classifyFailure(e));
    }
  }

  /**
   * Called when SLEEP_AFTER has passed with no request. The library's default sends SIGTERM, but the
   * Lean server image runs `python3 /lean_server.py` as PID 1 with no SIGTERM handler, and a PID 1
   * ignores signals it does not handle: the instance would keep running (and billing memory and disk)
   * until the platform's SIGKILL up to 15 minutes later. The server is stateless, so the instance is
   * ended at once with SIGKILL (destroy()). IDLE_STOP_SIGNAL=SIGTERM keeps the graceful stop for an
   * image whose process handles SIGTERM.
   */
  override async onActivityExpired(): Promise<void> {
    if (!this.ctx.container?.running) return;
    const signal: StopSignal = this.settings.idleStopSignal;
    console.log(`lean4-cf: idle for ${String(this.settings.sleepAfter)}, stopping the container with ${signal}`);
    if (signal === "SIGKILL") {
      await this.destroy();
    } else {
      await this.stop(signal);
    }
  }
}

// A Durable Object also starts for alarms, without a request through the Worker that would report a
// bad variable; it then keeps the documented defaults and logs the problem instead of failing to start.
function settingsOrDefaults(env: LeanVars): ContainerSettings {
  try {
    return containerSettings(env);
  } catch (e) {
    if (!(e instanceof SettingsError)) throw e;
    console.error(`lean4-cf: ${e.message}; using the defaults`);
    return containerSettings({});
  }
}

export default {
  async fetch(request, env) {
    return handle(request, env, () => backendFor(env));
  },
} satisfies ExportedHandler<Env>;
