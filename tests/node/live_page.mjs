// Opens the live page in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), waits for the live overall health and an updating number, saves a
// screenshot, and prints what it saw as one JSON line. Exit status 1 on any failure.
//
//   node tests/node/live_page.mjs http://127.0.0.1:8080/ artifacts/live-page.png
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: live_page.mjs <page url> <screenshot path>");
  process.exit(2);
}
const origin = new URL(url).host;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"],
});
const result = { ok: false, errors: [], foreign_requests: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("pageerror", (e) => result.errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") result.errors.push(m.text()); });
  page.on("request", (r) => { if (new URL(r.url()).host !== origin) result.foreign_requests.push(r.url()); });
  const started = Date.now();
  await page.goto(url, { waitUntil: "domcontentloaded" });
  await page.waitForFunction(
    () => ["healthy", "degraded", "unhealthy"].includes(document.getElementById("overall-status").textContent.trim()),
    null, { timeout: 5000 });
  result.health_ms = Date.now() - started;
  result.health = (await page.textContent("#overall-status")).trim();
  result.checks = await page.$$eval("#checks tbody tr", (rows) => rows.length);
  const firstUpdates = Number(await page.textContent("#updates-count"));
  const firstRps = (await page.textContent("#http-rps")).trim();
  await page.waitForFunction((n) => Number(document.getElementById("updates-count").textContent) > n + 2,
    firstUpdates, { timeout: 5000 });
  await page.waitForFunction(() => document.getElementById("http-rps").textContent.trim() !== "—", null, { timeout: 5000 });
  result.updating_ms = Date.now() - started;
  result.updates = Number(await page.textContent("#updates-count"));
  result.rps_first = firstRps;
  result.rps = (await page.textContent("#http-rps")).trim();
  result.connection = (await page.textContent("#conn-state")).trim();
  result.quotes = await page.$$eval("#quotes tbody tr", (rows) => rows.length);
  await page.screenshot({ path: screenshot, fullPage: true });
  result.ok = result.errors.length === 0 && result.foreign_requests.length === 0 && result.connection === "live";
} catch (e) {
  result.errors.push(String(e));
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
