// Admission control for one instance: at most maxConcurrent evaluations run at once, at most maxQueue
// wait in FIFO order, and a waiter gives up after queueTimeoutMs. The Lean server itself has no limit: it
// starts one `lean` process per request, each needing about 256 MiB and a share of the instance's vCPUs,
// so an instance without a limit runs out of memory under load and loses every request in flight.
// An Admission lives in the instance's Durable Object, which runs one request handler at a time between
// awaits, so plain counters are safe.
import { realTimers, type Timers } from "./bounds";
import { jsonError } from "./http";

export interface AdmissionLimits {
  /** Evaluations running at once (MAX_CONCURRENT). */
  maxConcurrent: number;
  /** Evaluations waiting for a slot (MAX_QUEUE); 0 refuses at once when every slot is taken. */
  maxQueue: number;
  /** How long a queued evaluation waits for a slot (QUEUE_TIMEOUT). */
  queueTimeoutMs: number;
}

/** A slot: release it exactly once when the evaluation has its answer, failed or was abandoned. */
export interface Ticket {
  release(): void;
}

export type Refusal = "queue_full" | "queue_timeout" | "aborted";

/** Seconds a refused client should wait: a full queue drains in about one run, a timed-out wait is longer. */
export const RETRY_AFTER_QUEUE_FULL = 2;
export const RETRY_AFTER_QUEUE_TIMEOUT = 5;

interface Waiter {
  grant(t: Ticket): void;
  done: boolean;
}

export class Admission {
  private running = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    readonly limits: AdmissionLimits,
    private readonly timers: Timers = realTimers,
  ) {}

  /** Evaluations holding a slot now. */
  get inFlight(): number {
    return this.running;
  }

  /** Evaluations waiting for a slot now. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Takes a slot, waiting in line when all are taken; resolves with a Ticket or why none was given. */
  acquire(signal?: AbortSignal): Promise<Ticket | Refusal> {
    if (signal?.aborted) return Promise.resolve("aborted");
    if (this.running < this.limits.maxConcurrent && this.queue.length === 0) return Promise.resolve(this.take());
    if (this.queue.length >= this.limits.maxQueue) return Promise.resolve("queue_full");
    return new Promise((resolve) => {
      const leave = (why: Refusal) => {
        if (w.done) return;
        w.done = true;
        this.queue.splice(this.queue.indexOf(w), 1);
        cleanup();
        resolve(why);
      };
      const onAbort = () => leave("aborted");
      const timer = this.timers.setTimeout(() => leave("queue_timeout"), this.limits.queueTimeoutMs);
      const cleanup = () => {
        this.timers.clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const w: Waiter = {
        done: false,
        grant: (t) => {
          w.done = true;
          cleanup();
          resolve(t);
        },
      };
      signal?.addEventListener("abort", onAbort);
      this.queue.push(w);
    });
  }

  private take(): Ticket {
    this.running++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.running--;
        this.next();
      },
    };
  }

  private next(): void {
    while (this.running < this.limits.maxConcurrent && this.queue.length > 0) {
      const w = this.queue.shift()!;
      w.grant(this.take());
    }
  }
}

/** The answer to a refused evaluation: 429 for a full queue, 503 for a wait past QUEUE_TIMEOUT. */
export function refusalResponse(why: Refusal, limits: AdmissionLimits): Response {
  const busy = `This instance runs at most MAX_CONCURRENT=${limits.maxConcurrent} evaluations at once`;
  switch (why) {
    case "queue_full":
      return jsonError(429, "queue_full", `${busy} and holds at most MAX_QUEUE=${limits.maxQueue} more in line, and both are full. Retry after ${RETRY_AFTER_QUEUE_FULL} s.`, {
        retryAfter: RETRY_AFTER_QUEUE_FULL,
      });
    case "queue_timeout":
      return jsonError(
        503,
        "queue_timeout",
        `${busy}; this request waited QUEUE_TIMEOUT=${limits.queueTimeoutMs / 1000} s in line without a free slot. Retry after ${RETRY_AFTER_QUEUE_TIMEOUT} s.`,
        { retryAfter: RETRY_AFTER_QUEUE_TIMEOUT },
      );
    case "aborted":
      return jsonError(499, "client_closed", "The client went away while the request waited for a slot.");
  }
}
