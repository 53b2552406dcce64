/**
 * End-to-end tests against the REAL backend: `contimg serve` on a freshly seeded
 * simulated deployment (tests/ui/serve_seeded.py), driven in Debian's headless
 * chromium (never a downloaded browser). Screenshots go to test-output/ui/.
 *
 *   npx playwright test            (or `make frontend-e2e` from the repository root)
 */
import { defineConfig } from "@playwright/test";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));
const port = Number(process.env.E2E_PORT ?? 8765);
export const E2E_HOME = process.env.E2E_HOME ?? `${repo}test-output/ui/home`;
export const E2E_TOKEN = "e2e-token";

export default defineConfig({
  testDir: "e2e",
  outputDir: `${repo}test-output/ui/results`,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  workers: 1,
  fullyParallel: false,
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    viewport: { width: 1280, height: 900 },
    browserName: "chromium",
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
    trace: "off",
  },
  webServer: {
    command: `${repo}.venv/bin/python ${repo}tests/ui/serve_seeded.py --home ${E2E_HOME} --port ${port}`,
    url: `http://127.0.0.1:${port}/api/v1/health`,
    timeout: 240_000,
    // E2E_REUSE=1: use a server already running on the port (seeded at E2E_HOME).
    reuseExistingServer: Boolean(process.env.E2E_REUSE),
    env: { CONTIMG_API__WRITE_TOKEN: E2E_TOKEN, CONTIMG_API__EVENTS_POLL_S: "1" },
    stdout: "ignore",
    stderr: "pipe",
  },
});
