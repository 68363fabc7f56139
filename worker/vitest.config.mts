// Worker tests run inside workerd through the Workers vitest plugin. test/global-setup.ts starts the
// echo origin; its URL is bound as LEAN_ORIGIN (the development override) and PORT_8000_URL (where the
// fake container's port 8000 forwards, test/fake-container.ts).
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: "./test/wrangler.test.jsonc" },
      miniflare: {
        bindings: { LEAN_ORIGIN: inject("echoOrigin"), PORT_8000_URL: inject("echoOrigin") },
      },
    })),
  ],
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["./test/global-setup.ts"],
    testTimeout: 20_000,
  },
});
