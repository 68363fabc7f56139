// The stub's canned answers. Kept apart from stub.ts, whose main module may export only its handler.
import type { LeanBackend } from "./routing";

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
