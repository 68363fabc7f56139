// What test/global-setup.ts hands to the tests and to vitest.config.mts with provide/inject.
declare module "vitest" {
  export interface ProvidedContext {
    /** The URL of the echo origin, e.g. http://127.0.0.1:39123. */
    echoOrigin: string;
    /** The URL of the Lean server double (internal/sandbox/leandouble). */
    leanOrigin: string;
    /** The URL of a Lean server double that closes POST connections without an answer. */
    leanCrashOrigin: string;
  }
}
export {};
