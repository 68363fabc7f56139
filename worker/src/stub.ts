// The stub entry point: no containers, no Durable Objects. lean4-cf deploys it first to prove the
// Worker, its routes and its settings work before any image is pushed. It shares every rule
// (auth, limits, CORS, 404) with the container entry point and answers with canned JSON.
import { handle, type LeanBackend } from "./routing";
import type { LeanVars } from "./settings";

/** The stub's POST / answer, in the Lean server's exact JSON format (json.dumps spacing, 0.0). */
export const STUB_EVALUATE_BODY = '{"ok": true, "stdout": "2\\n", "stderr": "", "exitCode": 0, "elapsed": 0.0, "stub": true}';
/** The stub's GET /health answer. */
export const STUB_HEALTH_BODY = '{"status": "ok", "stub": true}';

const JSON_TYPE = { "Content-Type": "application/json; charset=utf-8" };

export const stubBackend: LeanBackend = {
  async evaluate() {
    return new Response(STUB_EVALUATE_BODY, { status: 200, headers: JSON_TYPE });
  },
  async health() {
    return new Response(STUB_HEALTH_BODY, { status: 200, headers: JSON_TYPE });
  },
};

export default {
  async fetch(request, env) {
    return handle(request, env, () => stubBackend);
  },
} satisfies ExportedHandler<LeanVars>;
