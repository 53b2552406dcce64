/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";

// The build lands inside the Python package, so `contimg serve` serves it from the
// same origin as the API (no second server in production).
const outDir = fileURLToPath(new URL("../src/contimg/api/static", import.meta.url));

export default defineConfig({
  plugins: [react()],
  build: {
    outDir,
    emptyOutDir: true,
    chunkSizeWarningLimit: 1600, // plotly-basic is one 1.2 MB chunk, loaded lazily
  },
  server: {
    // `npm run dev`: proxy the API to a running `contimg serve`.
    proxy: { "/api": process.env.CONTIMG_API ?? "http://127.0.0.1:8000" },
  },
  test: {
    environment: "jsdom",
    globals: true,
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test-setup.ts"],
  },
});
