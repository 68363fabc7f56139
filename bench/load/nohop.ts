// The load benchmark's peer: the Worker's container entry point with the instance's own code (admission
// control, bounds, the LEAN_ORIGIN upstream) run inside the Worker instead of behind the instance's
// Durable Object. It differs from the real entry point only by that hop, so their ratio is the hop's cost.
// Bench only: production sends every evaluation through the Durable Object, where admission control
// counts the instance's requests across all Worker isolates.
import { Admission } from "./admission";
import { containerBackend, originUpstream, type LeanNamespace } from "./backends";
import { serveInstance } from "./instance";
import { handle } from "./routing";
import { containerSettings } from "./settings";

export { LeanContainer } from "./container";

// One per isolate, as the one instance's Durable Object holds one.
let admission: Admission | undefined;

export default {
  async fetch(request, env) {
    return handle(request, env, () => {
      const s = containerSettings(env);
      if (s.leanOrigin === undefined) throw new Error("the no-hop peer needs LEAN_ORIGIN");
      admission ??= new Admission({ maxConcurrent: s.maxConcurrent, maxQueue: s.maxQueue, queueTimeoutMs: s.queueTimeoutMs });
      const gate = admission;
      const upstream = originUpstream(s.leanOrigin);
      const inProcess: LeanNamespace = {
        idFromName: (name) => ({ name }) as unknown as DurableObjectId,
        get: () => ({ fetch: (req: Request) => serveInstance(req, upstream, { admission: gate, upstreamGraceSeconds: s.upstreamGraceSeconds }) }),
      };
      return containerBackend(inProcess, s);
    });
  },
} satisfies ExportedHandler<Env>;
