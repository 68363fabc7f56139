// Worker tests run inside workerd through the Workers vitest plugin.
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [cloudflareTest({ wrangler: { configPath: "./test/wrangler.test.jsonc" } })],
  test: {
    include: ["test/settings.test.ts", "test/routing.test.ts", "test/stub.test.ts", "test/failures.test.ts"],
    testTimeout: 20_000,
  },
});
