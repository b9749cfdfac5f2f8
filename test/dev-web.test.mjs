// npm run dev:web (tools/dev-web.mjs): the dashboard served from this computer against a
// device (the emulator running the host bundle), the device accepting the dev origin
// http://127.0.0.1:8081 for its WebSocket and REST API, and a rebuild on change.
// Run: node --test test/dev-web.test.mjs
import test from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import net from "node:net";
import path from "node:path";
import crypto from "node:crypto";
import { spawn } from "node:child_process";
import { ROOT, startEmulator, freePort, canConnect } from "../tools/runtimes.mjs";
import { ensureBundle } from "../tools/deploy-lib.mjs";
import { loadProfile } from "../tools/profiles.mjs";

const DEV_ORIGIN = "http://127.0.0.1:8081";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

/** A raw WebSocket handshake: resolves the status line and headers. */
function handshake(port, origin) {
  return new Promise((resolve, reject) => {
    const key = crypto.randomBytes(16).toString("base64");
    const s = net.connect(port, "127.0.0.1", () => s.write(
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sprat.v1\r\nOrigin: ${origin}\r\n\r\n`));
    let buf = "";
    s.on("data", (d) => {
      buf += d.toString("latin1");
      const i = buf.indexOf("\r\n\r\n");
      if (i < 0) return;
      s.destroy();
      const [status, ...lines] = buf.slice(0, i).split("\r\n");
      const h = {};
      for (const l of lines) { const j = l.indexOf(":"); h[l.slice(0, j).toLowerCase()] = l.slice(j + 1).trim(); }
      resolve({ status, h, key });
    });
    s.on("error", reject);
    setTimeout(() => { s.destroy(); reject(new Error(`no handshake answer: ${JSON.stringify(buf)}`)); }, 5000);
  });
}

function startDevWeb(args) {
  const c = spawn(process.execPath, [path.join(ROOT, "tools/dev-web.mjs"), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  const waiters = new Set();
  c.stdout.on("data", (d) => { text += d; for (const w of waiters) w(); });
  c.stderr.on("data", (d) => { text += d; for (const w of waiters) w(); });
  const exited = new Promise((r) => c.on("close", r));
  const waitFor = (re, ms = 60000) => new Promise((resolve, reject) => {
    const t = setTimeout(() => { waiters.delete(check); reject(new Error(`dev:web: no ${re} within ${ms} ms\n${text}`)); }, ms);
    const check = () => { const m = text.match(re); if (m) { clearTimeout(t); waiters.delete(check); resolve(m); } };
    waiters.add(check);
    check();
  });
  return { waitFor, text: () => text, stop: async () => { c.kill("SIGTERM"); await exited; } };
}

test("dev:web serves the dashboard built from web/, and the device accepts its origin", { timeout: 180000 }, async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sprat-devweb-"));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const p = loadProfile(path.join(ROOT, "board-profiles/host.json")).values;
  assert.ok(p.origins.split(",").includes(DEV_ORIGIN), "host.json allows the dev:web origin");
  const dev = await startEmulator({ bundle: ensureBundle("host"), flash: path.join(tmp, "host.flash"), flashSize: p.storageSize, pageSize: p.storagePage });
  t.after(() => dev.stop());

  // dev:web on 8081 when it is free (then a browser can really use it), else on any port
  const webPort = (await canConnect(8081)) ? await freePort() : 8081;
  const out = path.join(tmp, "out"), src = path.join(tmp, "web");
  fs.cpSync(path.join(ROOT, "web"), src, { recursive: true });
  const web = startDevWeb(["--device", `127.0.0.1:${dev.port}`, "--port", String(webPort), "--out", out, "--src", src]);
  t.after(() => web.stop());
  const m = await web.waitFor(/serving (http:\/\/127\.0\.0\.1:(\d+)\/\?device=(\S+))/);
  assert.equal(m[3], `127.0.0.1:${dev.port}`);
  const pageUrl = m[1];

  await t.test("the page and its script load from dev:web", async () => {
    const r = await fetch(pageUrl);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type"), /text\/html/);
    const html = await r.text();
    assert.match(html, /<script[^>]*src="?app\.js/);
    const js = await fetch(new URL("app.js", pageUrl));
    assert.equal(js.status, 200);
    assert.ok((await js.text()).length > 1000);
    assert.ok(fs.existsSync(path.join(out, "web.zip")), "the ZIP for upload:web is built too");
    const esc = await fetch(new URL("/..%2f..%2f..%2fetc%2fpasswd", pageUrl));
    assert.equal(esc.status, 403, "no way out of the staging folder");
  });

  await t.test("the device accepts a WebSocket handshake and REST calls from http://127.0.0.1:8081", async () => {
    const ok = await handshake(dev.port, DEV_ORIGIN);
    assert.match(ok.status, /^HTTP\/1\.1 101 /, `status: ${ok.status}`);
    assert.equal(ok.h["sec-websocket-accept"], crypto.createHash("sha1").update(ok.key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64"));
    const bad = await handshake(dev.port, "http://evil.example");
    assert.match(bad.status, /^HTTP\/1\.1 403 /, "other origins are still refused");
    const r = await fetch(`http://127.0.0.1:${dev.port}/api/status`, { headers: { origin: DEV_ORIGIN } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("access-control-allow-origin"), DEV_ORIGIN);
    assert.equal((await r.json()).profile, "host");
  });

  await t.test("a change under web/ rebuilds, and the page shows it", async () => {
    // a copy of web/ (--src): the shared sources stay untouched while other tests build them
    const f = path.join(src, "index.html");
    fs.writeFileSync(f, fs.readFileSync(f, "utf8").replace(/<title>[^<]*<\/title>/, "<title>edited by dev-web test</title>"));
    await web.waitFor(/changed: rebuilding[\s\S]*built /, 60000);
    assert.match(await fetch(pageUrl).then((r) => r.text()), /edited by dev-web test/);
  });

  await t.test("in a browser, the dashboard from dev:web connects to the device", { skip: webPort !== 8081 ? "port 8081 is in use: browser check skipped" : !fs.existsSync(CHROMIUM) ? `no browser at ${CHROMIUM}` : false }, async () => {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--no-first-run"] });
    try {
      const page = await browser.newPage();
      await page.goto(pageUrl);
      await page.waitForSelector("body[data-conn=open]", { timeout: 15000 });
      const name = await page.evaluate(() => window.sprat.dev.call("status").then((s) => s.profile));
      assert.equal(name, "host");
    } finally { await browser.close(); }
  });
});
