// The stub entry point: no containers, no Durable Objects. lean4-cf deploys it first to prove the
// Worker, its routes and its settings work before any image is pushed. It shares every rule
// (auth, limits, CORS, 404) with the container entry point and answers with canned JSON.
import { handle } from "./routing";
import { stubBackend } from "./stub-backend";
import type { LeanVars } from "./settings";

export default {
  async fetch(request, env) {
    return handle(request, env, () => stubBackend);
  },
} satisfies ExportedHandler<LeanVars>;
