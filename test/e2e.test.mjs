// End-to-end: the dashboard (web/) in headless Chromium against a running sprat host.
// Run: node --test test/e2e.test.mjs
//
// The host comes from test/helpers/host.mjs:
//   startHost({ flash, zip }) → Promise<{ url, stop(): Promise }>
//     flash: a Storage image path (created when missing; the same path again = the same
//            flash, so settings survive a stop + start); zip: the web ZIP to put in Storage.
//     url: the dashboard's base URL, with a trailing "/".
// SPRAT_E2E_HOST=path/to/other-helper.mjs points the test at another helper module;
// CHROMIUM=/path/to/chrome picks the browser (default /usr/bin/chromium).
// Screenshots go to build/screenshots/e2e-*.png.
import test from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import http from "node:http";
import zlib from "node:zlib";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const HELPER = path.resolve(ROOT, process.env.SPRAT_E2E_HOST || "test/helpers/host.mjs");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SHOTS = path.join(ROOT, "build/screenshots");
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"];
const WAIT = { timeout: 10000 };

const skip = !fs.existsSync(HELPER)
  ? `${path.relative(ROOT, HELPER)} is not there yet: no host to test against`
  : !fs.existsSync(CHROMIUM) ? `no browser at ${CHROMIUM} (set CHROMIUM=...)` : false;

/** GET without any decoding: status, headers and the raw body bytes. */
function rawGet(url, headers) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on("error", reject);
  });
}

async function api(base, method, params) {
  const r = await fetch(base + "api/" + method, params === undefined ? {} : { method: "POST", body: JSON.stringify(params) });
  return { status: r.status, body: await r.json() };
}

// The same browser test on each runtime: the emulator and the Kaluma emulator always, Espruino
// for Linux when set.
const RUNTIMES = [["emulator", skip], ["kaluma-emu", skip], ["espruino", skip || (!process.env.ESPRUINO_BIN && "ESPRUINO_BIN not set: real Espruino tests skipped (see README 'Real runtimes')")]];
for (const [runtime, rtSkip] of RUNTIMES) test(`dashboard end to end (${runtime})`, { skip: rtSkip, timeout: 180000 }, async (t) => {
  const { startHost } = await import(pathToFileURL(HELPER).href);
  const { chromium } = await import("playwright-core");
  const { buildWeb } = await import("../tools/build-web.mjs");

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sprat-e2e-"));
  const flash = path.join(tmp, "flash.img"), zip = path.join(tmp, "web.zip");
  await buildWeb({ out: zip, stage: path.join(tmp, "web"), quiet: true });
  fs.mkdirSync(SHOTS, { recursive: true });

  let host = await startHost({ flash, zip, runtime });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  t.after(async () => {
    await browser.close();
    if (host) await host.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const errors = [];
  /** A new page (own context, so no shared cache) on the current host, connected. */
  async function open(name, opts = {}) {
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 }, colorScheme: "light", ...opts });
    const responses = [];
    page.on("response", (r) => responses.push(r));
    page.on("console", (m) => m.type() === "error" && errors.push(`${name}: console: ${m.text()}`));
    page.on("pageerror", (e) => errors.push(`${name}: page error: ${e.message}`));
    await page.goto(host.url);
    await page.waitForSelector("body[data-conn=open]", WAIT);
    return { page, responses };
  }
  const shot = (page, name, full = true) => page.screenshot({ path: path.join(SHOTS, `e2e-${runtime}-${name}.png`), fullPage: full });

  const a = await open("A");
  const b = await open("B", { colorScheme: "dark" });

  await t.test("index.html and app.js are served with Content-Encoding: deflate", async () => {
    const got = {};
    for (const r of a.responses) {
      const p = new URL(r.url()).pathname;
      if (p === "/" || p === "/index.html" || p === "/app.js") got[p === "/app.js" ? "app.js" : "index.html"] = (await r.allHeaders())["content-encoding"];
    }
    assert.deepEqual(got, { "index.html": "deflate", "app.js": "deflate" });
    // and on the wire: HTTP's deflate is zlib-wrapped (RFC 1950), so inflate (not inflateRaw) reads it
    for (const [p, want] of [["", /^<!doctype html>/i], ["app.js", /\S/]]) {
      const r = await rawGet(host.url + p, { "accept-encoding": "deflate" });
      assert.equal(r.status, 200, p);
      assert.equal(r.headers["content-encoding"], "deflate", p);
      assert.match(zlib.inflateSync(r.body).toString("utf8"), want, p);
    }
  });

  await t.test("the WebSocket connects and the indicator says so", async () => {
    assert.equal((await a.page.textContent("#conn-text")).trim(), "Connected");
    assert.equal(await a.page.evaluate(() => window.sprat.dev.state), "open");
    await a.page.waitForFunction(() => document.querySelector("#s-profile").textContent !== "—", null, WAIT);
  });

  await t.test("telemetry ticks: the chart gets points, at 5 or more a second", async () => {
    await a.page.waitForFunction(() => window.sprat.chart.n >= 5, null, WAIT);
    const n0 = await a.page.evaluate(() => window.sprat.chart.n);
    await a.page.waitForTimeout(3000);
    const n1 = await a.page.evaluate(() => window.sprat.chart.n);
    assert.ok(n1 - n0 >= 12, `${n1 - n0} telemetry points in 3 s`); // 15 at the default 200 ms
    assert.match(await a.page.textContent(".lg b"), /^\d+(\.\d)?/); // the legend shows a value
  });

  await t.test("a control round-trips and a second page sees it", async () => {
    const before = await a.page.getAttribute("#led", "aria-checked");
    const want = before === "true" ? "false" : "true";
    await a.page.click("#led");
    await a.page.waitForFunction((w) => document.querySelector("#led").getAttribute("aria-checked") === w, want, WAIT);
    await b.page.waitForFunction((w) => document.querySelector("#led").getAttribute("aria-checked") === w, want, WAIT);
    await a.page.fill("#level", "73"); // an input event, as dragging makes
    await b.page.waitForFunction(() => document.querySelector("#level-out").textContent === "73%", null, WAIT);
    assert.equal(await b.page.inputValue("#level"), "73");
    assert.deepEqual((await api(host.url, "control.get")).body, { led: want === "true", level: 73 });
    await shot(b.page, "second-page-dark");
  });

  await t.test("an invalid setting shows the device's message next to the field", async () => {
    // what the device says about it, asked directly
    const direct = await api(host.url, "settings.set", { telemetryMs: 5 });
    assert.equal(direct.status, 400);
    const msg = direct.body.error.data.telemetryMs;
    assert.ok(msg, "the device names the field");
    await a.page.fill("#f-telemetryMs", "5");
    await a.page.click("#save");
    await a.page.waitForFunction(() => document.querySelector("#e-telemetryMs").textContent !== "", null, WAIT);
    assert.equal(await a.page.textContent("#e-telemetryMs"), msg);
    assert.equal(await a.page.getAttribute("#f-telemetryMs", "aria-invalid"), "true");
    assert.equal(await a.page.textContent("#e-name"), "");
    await shot(a.page, "settings-invalid");
  });

  const NAME = "Café Ñandú ☕ 🐟";
  await t.test("settings persist across a server restart (same flash)", async () => {
    await a.page.fill("#f-name", NAME);
    await a.page.fill("#f-telemetryMs", "150");
    await a.page.click("#save");
    await a.page.waitForFunction(() => /Saved/.test(document.querySelector("#set-msg").textContent), null, WAIT);
    await b.page.waitForFunction((n) => document.querySelector("#dev-name").textContent === n, NAME, WAIT); // pushed on `settings`
    await shot(a.page, "dashboard-light");
    // pages closed first: a page left open would log its failed reconnects
    await a.page.close();
    await b.page.close();
    await host.stop();
    host = null;
    host = await startHost({ flash, zip, runtime });
    const c = await open("C");
    await c.page.waitForFunction((n) => document.querySelector("#f-name").value === n, NAME, WAIT);
    assert.equal(await c.page.inputValue("#f-telemetryMs"), "150");
    assert.equal(await c.page.textContent("#dev-name"), NAME);
    assert.equal(await c.page.title(), NAME + " · sprat");
    assert.equal((await api(host.url, "status")).body.name, NAME); // and over REST, UTF-8 intact
    const m = await open("mobile", { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    await m.page.waitForFunction(() => window.sprat.chart.n >= 10, null, WAIT);
    await shot(m.page, "mobile");
    await m.page.close();
    await c.page.close();
  });

  await t.test("no console errors", () => {
    assert.deepEqual(errors, []);
  });
});
