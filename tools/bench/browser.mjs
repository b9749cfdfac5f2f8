// Dashboard timings in headless Chromium: first contentful paint and the first telemetry
// point on the chart, from navigation start, median of a few fresh page loads (no cache).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startHost } from "../../test/helpers/host.mjs";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"];

export async function browserSuite(runtime, zip, loads = 5) {
  if (!fs.existsSync(CHROMIUM)) return { skip: `no browser at ${CHROMIUM}` };
  const { chromium } = await import("playwright-core");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sprat-bench-browser-"));
  const host = await startHost({ flash: path.join(tmp, "flash.img"), zip, runtime });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  const fcp = [], tele = [];
  try {
    for (let i = 0; i < loads; i++) {
      const ctx = await browser.newContext(); // a fresh context: nothing cached
      const page = await ctx.newPage();
      await page.goto(host.url);
      await page.waitForFunction(() => window.sprat && window.sprat.chart.n >= 1, null, { timeout: 15000 });
      const t = await page.evaluate(() => ({
        fcp: (performance.getEntriesByName("first-contentful-paint")[0] || {}).startTime,
        now: performance.now(),
      }));
      fcp.push(t.fcp);
      tele.push(t.now); // waitForFunction polls each frame: within ~16 ms of the point
      await ctx.close();
    }
  } finally {
    await browser.close();
    await host.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const med = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
  return { fcp: Math.round(med(fcp)), telemetry: Math.round(med(tele)), loads };
}
