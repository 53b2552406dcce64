/**
 * The dashboard on what the REAL pipeline produced: run by tests/ui/test_real_run.py
 * against `contimg serve` over the databases and files of the shared shortened
 * `contimg demo` run (tests/demo_run.py), served from another working directory.
 * Skipped in the seeded suite (E2E_REAL unset).
 *
 * Every page: no failed request (no 4xx/5xx, no network failure) in the browser's
 * log, no skeleton left, every image (cutouts, thumbnails, previews) decoded
 * (naturalWidth > 0), nothing "file missing". Screenshots go to
 * test-output/ui/real/, and the README's two to docs/images/.
 */
import { expect, test, type Page } from "@playwright/test";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const shots = `${repo}test-output/ui/real`;
const docs = `${repo}docs/images`;

test.skip(!process.env.E2E_REAL, "runs from tests/ui/test_real_run.py on a real pipeline run");
test.describe.configure({ mode: "serial" });
// Real images are 2-4k pixels a side: previews and cutouts take seconds on a loaded machine.
test.setTimeout(900_000);

function watch(page: Page): string[] {
  const bad: string[] = [];
  page.on("pageerror", (e) => bad.push(`pageerror: ${e.message}`));
  page.on("requestfailed", (r) => {
    // A navigation away aborts the live-event stream: not a failure of the page.
    if (!r.url().includes("/api/v1/events")) bad.push(`failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on("response", (r) => {
    if (r.status() >= 400) bad.push(`${r.status()} ${r.url()}`);
  });
  return bad;
}

/** Wait until the page shows no skeleton and every image is decoded; count the images. */
async function settled(page: Page, what: string): Promise<number> {
  await expect(page.locator(".page")).toBeVisible({ timeout: 60_000 });
  await page.waitForFunction(
    () =>
      document.querySelectorAll(".loading, [data-testid=image-loading]").length === 0 &&
      Array.from(document.images).every((i) => i.complete && i.naturalWidth > 0),
    undefined,
    { timeout: 180_000 },
  );
  await expect(page.getByTestId("file-missing"), `${what}: a file is missing`).toHaveCount(0);
  await expect(page.getByTestId("image-error"), `${what}: an image failed`).toHaveCount(0);
  await expect(page.locator(".error-box"), `${what}: an error is shown`).toHaveCount(0);
  return page.evaluate(() => Array.from(document.images).filter((i) => i.naturalWidth > 0).length);
}

async function visit(page: Page, path: string, name: string, readme?: string): Promise<number> {
  const bad = watch(page);
  await page.goto(path);
  const n = await settled(page, path);
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  if (readme) {
    mkdirSync(docs, { recursive: true });
    await page.screenshot({ path: `${docs}/${readme}.png`, fullPage: false });
  }
  expect(bad, `${path}: failed requests`).toEqual([]);
  console.log(`${path}: ${n} images loaded`);
  return n;
}

test("every list page renders on the real run without a failed request", async ({ page }) => {
  const overview = await visit(page, "/", "01-overview", "dashboard-overview");
  expect(overview).toBeGreaterThanOrEqual(0);
  await expect(page.getByTestId("queue-counts")).toContainText("completed");
  for (const [path, name] of [
    ["/queue", "02-queue"],
    ["/calibration", "03-calibration"],
    ["/images", "04-images"],
    ["/sources", "05-sources"],
    ["/candidates", "06-candidates"],
  ] as const) {
    await visit(page, path, name);
  }
  const thumbs = await visit(page, "/mosaics", "07-mosaics");
  expect(thumbs).toBeGreaterThanOrEqual(1);
});

test("detail pages: group, image preview, mosaic, and the injected source's cutouts", async ({ page }) => {
  const api = async (p: string) => (await page.request.get(`/api/v1${p}`)).json();
  const groups = await api("/groups?limit=1");
  await visit(page, `/queue/${encodeURIComponent(groups.data[0].group_id)}`, "08-group");
  const imgs = await api("/images?type=pbcor&limit=1");
  expect(await visit(page, `/images/${imgs.data[0].id}`, "09-image")).toBe(1);
  const ms = await api("/mosaics?limit=1");
  expect(await visit(page, `/mosaics/${ms.data[0].id}`, "10-mosaic")).toBe(1);
  // The injected ESE source (tests/ui/test_real_run.py passes its id from the run's manifest).
  const src = process.env.E2E_ESE_SOURCE ?? "";
  expect(src).not.toBe("");
  const lc = await api(`/sources/${encodeURIComponent(src)}/lightcurve`);
  const cutouts = await visit(page, `/sources/${encodeURIComponent(src)}`, "11-source", "dashboard-source");
  expect(cutouts).toBe(Math.min(12, lc.points.length));
  await expect(page.getByTestId("lightcurve-plot")).toHaveAttribute("data-ready", "true");
});
