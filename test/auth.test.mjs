// Access control (src/server/auth.ts, docs/security.md) and the Origin / Host policy
// (src/server/ws.ts originOk, hostOk) over real sockets on 127.0.0.1, on every runtime from
// tools/runtimes.mjs: the emulator and the Kaluma emulator always, Espruino for Linux when
// ESPRUINO_BIN is set.
// The app is built with tokenTtl 3 s (expiry is tested), an extra origin and an extra host
// name; a second build has publicRead false. The password's hash is checked against one
// computed here (SHA-256 where the firmware has it, else SHA-1: Kaluma), and a hash made
// here logs in there.
// Run: node --test test/auth.test.mjs
import test from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { runtimes } from "../tools/runtimes.mjs";
import { build, start, readFlash, writeFlash, http, api, wsOpen, authHash, sleep } from "./helpers/sec.mjs";

const TTL = 3000, ORIGIN = "http://allowed.example:8081", HOST = "device.example.com";
const LIMITS = { tokenTtl: TTL, origins: ORIGIN, hosts: HOST, telemetryMs: 100 };
const PW = "correct horse", PW2 = "battery staple \u00e9"; // the second one is not ASCII
const TOKEN = /^[A-Za-z0-9+/]{24}$/;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sprat-auth-"));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => { const d = path.join(tmp, `d${dirs++}`); fs.mkdirSync(d); return d; };

const RTS = runtimes();
for (const m of RTS.missing) test(`auth on ${m.name}`, { skip: m.skipReason }, () => {});

/** The error object of a WebSocket reply or REST body. */
const errOf = (r) => (r.json || r).error;

for (const r of RTS) {
  test(`${r.name}: device password, sessions, backoff`, { timeout: 180000 }, async (t) => {
    const b = await build(r, "auth", LIMITS), dir = freshDir();
    let rt = await start(r, b, { dir });
    t.after(() => rt.stop());
    const P = () => rt.port;
    let token;

    await t.test("no password set: everything is open over REST and WebSocket, as before", async () => {
      let res = await api(P(), "control.set", { led: true });
      assert.equal(res.status, 200, res.text);
      const ws = await wsOpen(P());
      try {
        assert.deepEqual((await ws.rpc("control.set", { level: 10 })).result, { led: true, level: 10 });
        assert.deepEqual((await ws.rpc("settings.set", { name: "open" })).result.name, "open");
      } finally { ws.destroy(); }
      res = await api(P(), "auth.logout", {});
      assert.equal(res.status, 200, "auth.logout is harmless without a password");
    });

    await t.test("auth.setPassword (first setup, no old password needed) returns a session token", async () => {
      const res = await api(P(), "auth.setPassword", { new: PW });
      assert.equal(res.status, 200, res.text);
      assert.match(res.json.token, TOKEN);
      assert.equal(res.json.ttl, TTL);
      token = res.json.token;
    });

    await t.test("REST: a state-changing call without a valid token is 401 (WWW-Authenticate: Bearer); read methods stay open", async () => {
      for (const [tok, what] of [[null, "no token"], ["AAAAAAAAAAAAAAAAAAAAAAAA", "a wrong token"], [token + "x", "a longer token"], [token.slice(0, 23), "a prefix"]]) {
        for (const m of ["control.set", "settings.set"]) {
          const res = await api(P(), m, { led: false }, tok);
          assert.equal(res.status, 401, `${m} with ${what}: ${res.text}`);
          assert.equal(res.headers["www-authenticate"], "Bearer");
          assert.deepEqual(res.json, { error: { code: -32001, message: "authentication required" } });
        }
      }
      let res = await api(P(), "control.set", { led: false }, token);
      assert.equal(res.status, 200, res.text);
      res = await http(P(), { method: "POST", path: "/api/control.set", headers: { Authorization: "bearer " + token, "Content-Type": "application/json" }, body: '{"level":11}' });
      assert.equal(res.status, 200, "the scheme is case-insensitive");
      for (const m of ["status", "settings.get", "control.get", "log.get", "web.info"]) assert.equal((await api(P(), m)).status, 200, `GET ${m} (publicRead)`);
      assert.equal((await api(P(), "control.get")).json.level, 11, "the refused calls changed nothing");
    });

    await t.test("WebSocket: auth.login marks the socket; topics and read methods stay open; another socket resumes with the token; auth.logout ends it", async () => {
      const a = await wsOpen(P()), c = await wsOpen(P()), d = await wsOpen(P());
      try {
        assert.equal(errOf(await a.rpc("control.set", { led: true })).code, -32001);
        assert.deepEqual((await a.rpc("subscribe", { topics: ["telemetry"] })).result, ["telemetry"]);
        await a.until(() => a.msgs.some((m) => m.method === "telemetry"), 3000, "a telemetry push");
        assert.ok((await a.rpc("status")).result.uptime >= 0, "status is read-only: open");
        assert.deepEqual(errOf(await a.rpc("auth.login", { password: "wrong" })), { code: -32001, message: "wrong password" });
        const li = (await a.rpc("auth.login", { password: PW })).result;
        assert.match(li.token, TOKEN);
        assert.notEqual(li.token, token, "a new session");
        assert.deepEqual((await a.rpc("control.set", { led: true })).result.led, true);
        // another socket: the REST session's token resumes it
        assert.deepEqual((await c.rpc("auth.login", { token })).result, { token });
        assert.equal((await c.rpc("control.set", { level: 12 })).result.level, 12);
        assert.deepEqual(errOf(await d.rpc("auth.login", { token: "AAAAAAAAAAAAAAAAAAAAAAAA" })), { code: -32001, message: "invalid or expired token" });
        assert.equal(errOf(await d.rpc("control.set", { level: 13 })).code, -32001);
        assert.equal((await c.rpc("auth.logout")).result, true);
        assert.equal(errOf(await c.rpc("control.set", { level: 14 })).code, -32001, "logged out");
        assert.equal((await api(P(), "control.set", { level: 14 }, token)).status, 401, "the token is gone for REST too");
        assert.equal((await a.rpc("control.set", { level: 15 })).result.level, 15, "the other session goes on");
      } finally { for (const s of [a, c, d]) s.destroy(); }
    });

    await t.test("at most 4 sessions: a fifth login ends the oldest", async () => {
      const toks = [];
      for (let i = 0; i < 5; i++) {
        const res = await api(P(), "auth.login", { password: PW });
        assert.equal(res.status, 200, res.text);
        toks.push(res.json.token);
      }
      assert.equal(new Set(toks).size, 5, "every token differs");
      assert.equal((await api(P(), "control.set", { level: 20 }, toks[0])).status, 401, "the oldest is gone");
      for (const k of toks.slice(1)) assert.equal((await api(P(), "control.set", { level: 21 }, k)).status, 200);
    });

    await t.test(`tokens expire after tokenTtl (${TTL} ms), on REST and on a logged-in socket`, async () => {
      const tok = (await api(P(), "auth.login", { password: PW })).json.token;
      const ws = await wsOpen(P());
      try {
        assert.ok((await ws.rpc("auth.login", { token: tok })).result);
        assert.equal((await api(P(), "control.set", { level: 22 }, tok)).status, 200);
        await sleep(TTL + 300);
        assert.equal((await api(P(), "control.set", { level: 23 }, tok)).status, 401, "expired");
        assert.equal(errOf(await ws.rpc("control.set", { level: 23 })).code, -32001, "the socket's session expired too");
      } finally { ws.destroy(); }
    });

    await t.test("failed logins back off: two are free, then 1 s, 2 s, ...: 429 / -32003 with retryIn, even for the right password; a success resets", async () => {
      const t0 = Date.now();
      for (let i = 0; i < 3; i++) {
        const res = await api(P(), "auth.login", { password: "guess" + i });
        assert.equal(res.status, 401, res.text);
        assert.deepEqual(res.json.error, { code: -32001, message: "wrong password" });
      }
      let res = await api(P(), "auth.login", { password: PW });
      assert.equal(res.status, 429, res.text);
      assert.deepEqual(res.json.error, { code: -32003, message: "too many failed logins", data: { retryIn: 1 } });
      const ws = await wsOpen(P());
      try { assert.equal(errOf(await ws.rpc("auth.login", { password: PW })).code, -32003, "over WebSocket too (the backoff is global)"); } finally { ws.destroy(); }
      await sleep(Math.max(0, 1100 - (Date.now() - t0)));
      res = await api(P(), "auth.login", { password: "guess3" });
      assert.equal(res.status, 401, "a fourth wrong one");
      res = await api(P(), "auth.login", { password: PW });
      assert.equal(res.status, 429);
      assert.equal(res.json.error.data.retryIn, 2, "the lock doubled");
      await sleep(2100);
      res = await api(P(), "auth.login", { password: PW });
      assert.equal(res.status, 200, res.text);
      token = res.json.token;
      res = await api(P(), "auth.login", { password: "typo" });
      assert.equal(res.status, 401);
      res = await api(P(), "auth.login", { password: PW });
      assert.equal(res.status, 200, "the success reset the count: one failure is free again");
      token = res.json.token;
    });

    await t.test("auth.setPassword: a change needs the session and the current password, and ends every other session", async () => {
      const ws = await wsOpen(P());
      try {
        assert.ok((await ws.rpc("auth.login", { password: PW })).result.token);
        let res = await api(P(), "auth.setPassword", { old: PW, new: PW2 });
        assert.equal(res.status, 401, "no token");
        res = await api(P(), "auth.setPassword", { old: "not it", new: PW2 }, token);
        assert.equal(res.status, 401);
        assert.equal(res.json.error.message, "wrong password");
        for (const bad of [{ old: PW }, { old: PW, new: 5 }, { old: PW, new: "x".repeat(65) }]) {
          res = await api(P(), "auth.setPassword", bad, token);
          assert.equal(res.status, 400, JSON.stringify(bad));
          assert.equal(res.json.error.code, -32602);
        }
        res = await api(P(), "auth.setPassword", { old: PW, new: PW2 }, token);
        assert.equal(res.status, 200, res.text);
        const fresh = res.json.token;
        assert.match(fresh, TOKEN);
        assert.equal((await api(P(), "control.set", { level: 30 }, token)).status, 401, "the old session ended");
        assert.equal(errOf(await ws.rpc("control.set", { level: 30 })).code, -32001, "so did the socket's");
        assert.equal((await api(P(), "control.set", { level: 31 }, fresh)).status, 200, "the caller's new one works");
        assert.equal((await api(P(), "auth.login", { password: PW })).status, 401, "the old password is gone");
        res = await api(P(), "auth.login", { password: PW2 });
        assert.equal(res.status, 200, "the new one (UTF-8) works");
        token = res.json.token;
      } finally { ws.destroy(); }
    });

    await t.test("Storage holds {salt, hash, iter}: iterated SHA-256 (SHA-1 without native crypto: Kaluma), never the password; it survives a restart, sessions do not", async () => {
      await rt.stop();
      const raw = await readFlash(r, dir, "auth.json", b.values);
      assert.ok(raw, "auth.json exists");
      const a = JSON.parse(raw.toString("latin1"));
      assert.deepEqual(Object.keys(a).sort(), ["hash", "iter", "salt"]);
      assert.equal(a.salt.length, 16);
      assert.equal(a.iter, 100);
      // src/server/auth.ts: SHA-256 from the firmware's crypto; profiles without it (nativeSha1
      // false) hash with the bundle's JS SHA-1
      const alg = b.values.nativeSha1 ? "sha256" : "sha1";
      assert.equal(a.hash, authHash(a.salt, Buffer.from(PW2, "utf8").toString("latin1"), a.iter, alg), `hash = iterated base64(${alg}(h + salt + password))`);
      assert.ok(!raw.includes(Buffer.from("battery")), "no plain text");
      rt = await start(r, b, { dir, keep: true });
      assert.equal((await api(P(), "control.set", { level: 32 }, token)).status, 401, "sessions are RAM only");
      const res = await api(P(), "auth.login", { password: PW2 });
      assert.equal(res.status, 200, res.text);
      token = res.json.token;
    });

    await t.test("auth.setPassword {new: \"\"} removes the password: open again, auth.json erased", async () => {
      let res = await api(P(), "auth.setPassword", { old: PW2, new: "" }, token);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json, null);
      assert.equal((await api(P(), "control.set", { level: 33 })).status, 200);
      await rt.stop();
      assert.equal(await readFlash(r, dir, "auth.json", b.values), undefined);
      rt = await start(r, b, { dir, keep: true });
      assert.equal((await api(P(), "control.set", { level: 34 })).status, 200, "still open after a restart");
    });

    await t.test("a corrupt auth.json fails closed: writes and logins refused, reads open, a console line", async () => {
      await rt.stop();
      await writeFlash(r, dir, { "auth.json": "{\"salt\":\"abc\",\"ha" }, b.values);
      rt = await start(r, b, { dir, keep: true });
      await rt.waitFor("auth.json is corrupt: logins refused until it is erased", 3000);
      assert.equal((await api(P(), "control.set", { level: 35 })).status, 401);
      assert.equal((await api(P(), "auth.login", { password: "" })).status, 401);
      assert.equal((await api(P(), "auth.login", {})).status, 401);
      assert.equal((await api(P(), "status")).status, 200);
    });
  });

  test(`${r.name}: publicRead false: read methods and topics need a session too`, { timeout: 120000 }, async (t) => {
    const salt = "0123456789abcdef", pw = "s3cret";
    // a hash computed here: the device's format is plain and portable
    const b = await build(r, "auth-private", { ...LIMITS, publicRead: false });
    const storage = { "auth.json": JSON.stringify({ salt, hash: authHash(salt, pw, 10, b.values.nativeSha1 ? "sha256" : "sha1"), iter: 10 }) };
    const rt = await start(r, b, { storage, dir: freshDir() });
    t.after(() => rt.stop());
    for (const m of ["status", "settings.get", "web.info"]) {
      const res = await api(rt.port, m);
      assert.equal(res.status, 401, `GET ${m}`);
    }
    const res = await api(rt.port, "auth.login", { password: pw });
    assert.equal(res.status, 200, res.text);
    assert.equal((await api(rt.port, "status", undefined, res.json.token)).status, 200);
    const ws = await wsOpen(rt.port);
    try {
      assert.equal(errOf(await ws.rpc("subscribe", { topics: ["telemetry"] })).code, -32001);
      assert.equal(errOf(await ws.rpc("status")).code, -32001);
      assert.ok((await ws.rpc("auth.login", { token: res.json.token })).result);
      assert.deepEqual((await ws.rpc("subscribe", { topics: ["telemetry"] })).result, ["telemetry"]);
      await ws.until(() => ws.msgs.some((m) => m.method === "telemetry"), 3000, "telemetry once logged in");
      assert.equal((await ws.rpc("auth.logout")).result, true);
      await sleep(300);
      const n = ws.msgs.length;
      await sleep(600);
      assert.equal(ws.msgs.length, n, "no pushes after logging out (its topics were dropped)");
    } finally { ws.destroy(); }
  });

  test(`${r.name}: Origin allow-list and CORS; Host check against DNS rebinding`, { timeout: 120000 }, async (t) => {
    const rt = await start(r, await build(r, "auth", LIMITS), { dir: freshDir() });
    t.after(() => rt.stop());
    const port = rt.port, own = "http://127.0.0.1"; // the REST helper sends Host: 127.0.0.1

    await t.test("REST: a foreign Origin is 403 without CORS headers; same origin and listed origins get Access-Control-Allow-Origin", async () => {
      for (const o of ["http://evil.example", "null", `${own}.evil.example`, `http://127.0.0.1:${port + 1}`]) {
        for (const res of [await api(port, "control.set", { led: true }, null, { Origin: o }), await api(port, "status", undefined, null, { Origin: o })]) {
          assert.equal(res.status, 403, o);
          assert.equal(res.text, "403 Forbidden: origin not allowed\n");
          assert.equal(res.headers["access-control-allow-origin"], undefined);
        }
        const pre = await http(port, { method: "OPTIONS", path: "/api/control.set", headers: { Origin: o, "Access-Control-Request-Method": "POST" } });
        assert.equal(pre.status, 403, `preflight from ${o}`);
      }
      for (const o of [own, ORIGIN]) {
        const res = await api(port, "control.set", { led: true }, null, { Origin: o });
        assert.equal(res.status, 200);
        assert.equal(res.headers["access-control-allow-origin"], o);
        assert.equal(res.headers.vary, "Origin");
        const pre = await http(port, { method: "OPTIONS", path: "/api/control.set", headers: { Origin: o, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization" } });
        assert.equal(pre.status, 204);
        assert.equal(pre.headers["access-control-allow-origin"], o);
        assert.match(pre.headers["access-control-allow-headers"], /Authorization/);
      }
      const res = await api(port, "status");
      assert.equal(res.headers["access-control-allow-origin"], undefined, "no Origin (curl): no CORS headers");
    });

    await t.test("WebSocket: a foreign Origin is refused at the handshake (403); same origin, listed origins and no Origin open", async () => {
      for (const o of ["http://evil.example", `http://127.0.0.1:${port + 1}`, "null", own]) {
        const c = await wsOpen(port, { origin: o }); // Host: 127.0.0.1:port
        assert.ok(c.refused, `Origin ${o} refused`);
        assert.equal(c.refused.status, 403);
        assert.equal(c.refused.text, "403 Forbidden: origin not allowed\n");
      }
      for (const o of [`${own}:${port}`, ORIGIN, undefined]) {
        const c = await wsOpen(port, { origin: o });
        assert.ok(!c.refused, `Origin ${o} opens`);
        assert.ok((await c.rpc("status")).result);
        c.destroy();
      }
    });

    await t.test("Host: a public DNS name is 403 \"host not allowed\" for the API and WebSockets, also when Origin matches it (DNS rebinding)", async () => {
      for (const h of ["evil.example", `evil.example:${port}`, "127.0.0.1.nip.io", "sprat.local.evil.com", `${HOST}.evil.com`, "evil.example.", "x.localhost.evil.com"]) {
        let res = await http(port, { path: "/api/status", host: h });
        assert.equal(res.status, 403, `Host ${h}`);
        assert.equal(res.text, "403 Forbidden: host not allowed\n");
        res = await api(port, "control.set", { led: true }, null, { Origin: `http://${h}` });
        assert.equal(res.status, 403, `POST with Host ${h} and a matching Origin`);
        const c = await wsOpen(port, { host: h, origin: `http://${h}` });
        assert.equal(c.refused && c.refused.status, 403, `WebSocket with Host ${h}`);
        res = await http(port, { path: "/", host: h });
        assert.notEqual(res.status, 403, "static files are public: no Host check");
      }
    });

    await t.test("Host: IP literals, single-label and local names, and the profile's hosts are served", async () => {
      for (const h of [`127.0.0.1:${port}`, "192.168.1.50", "[::1]:8080", "[fe80::1]", "sprat", "localhost:8080", "sprat.local", "SPRAT.Local.",
        "sprat.lan", "esp32.home.arpa", "dev.internal", "sprat.localdomain", "sprat.home", HOST, `${HOST}:80`, "DEVICE.example.COM"]) {
        const res = await http(port, { path: "/api/status", host: h });
        assert.equal(res.status, 200, `Host ${h}`);
        const c = await wsOpen(port, { host: h });
        assert.ok(!c.refused, `WebSocket with Host ${h}`);
        c.destroy();
      }
    });
  });
}

// The dashboard's side (web/src/client.ts, main.ts): the login dialog on -32001, the session
// kept in sessionStorage and resumed on a new socket, Settings → Set password. Emulator only
// (test/e2e.test.mjs runs the dashboard on both runtimes without a password).
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const emu = RTS.find((r) => r.name === "emulator");
test("dashboard: a change asks for the password once, the session survives a reload; Set password", { skip: !fs.existsSync(CHROMIUM) && `no browser at ${CHROMIUM} (set CHROMIUM=...)`, timeout: 120000 }, async (t) => {
  const { chromium } = await import("playwright-core");
  const { buildWeb } = await import("../tools/build-web.mjs");
  const dir = freshDir(), salt = "fedcba9876543210", pw = "dashboard pass";
  const { zip } = await buildWeb({ out: path.join(dir, "web.zip"), stage: path.join(dir, "stage"), quiet: true });
  const storage = { "web.zip": zip, "auth.json": JSON.stringify({ salt, hash: authHash(salt, pw, 100), iter: 100 }) };
  const rt = await start(emu, await build(emu, "auth-ui", {}), { storage, dir: freshDir() });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--no-first-run"] });
  t.after(async () => { await browser.close(); await rt.stop(); });
  const url = `http://127.0.0.1:${rt.port}/`, W = { timeout: 10000 };
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector("body[data-conn=open]", W);
  await page.waitForFunction(() => document.querySelector("#s-profile").textContent !== "—", null, W); // status is public
  const led = async () => (await api(rt.port, "control.get")).json.led;
  const before = await led();

  await page.click("#led");
  await page.waitForSelector("#login[open]", W);
  await page.fill("#pw", "not it");
  await page.click("#login button[value=ok]");
  await page.waitForFunction(() => document.querySelector("#pw-msg").textContent === "wrong password", null, W);
  fs.mkdirSync(path.join(process.cwd(), "build/screenshots"), { recursive: true });
  await page.screenshot({ path: "build/screenshots/auth-login.png" });
  await page.fill("#pw", pw);
  await page.click("#login button[value=ok]");
  await page.waitForSelector("#login", { state: "hidden", ...W });
  assert.ok(await until(async () => (await led()) === !before, 5000), "the LED changed after the login");
  const tok = await page.evaluate(() => Object.entries(sessionStorage).find(([k]) => k.startsWith("sprat.token"))?.[1]);
  assert.match(tok || "", TOKEN, "the token is kept in sessionStorage");

  // a reload: a new socket resumes the session, no dialog
  await page.reload();
  await page.waitForSelector("body[data-conn=open]", W);
  await page.click("#led");
  assert.ok(await until(async () => (await led()) === before, 5000), "changed again without a password");
  assert.equal(await page.isVisible("#login"), false, "no dialog after the reload");

  // Settings: change the password, then remove it
  await page.fill("#f-old", pw);
  await page.fill("#f-new", "new pass");
  await page.click("#pwf button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#pwf-msg").textContent === "Password set ✓", null, W);
  assert.equal((await api(rt.port, "auth.login", { password: "new pass" })).status, 200);
  await page.fill("#f-old", "new pass");
  await page.click("#pwf button[type=submit]");
  await page.waitForFunction(() => /No password/.test(document.querySelector("#pwf-msg").textContent), null, W);
  assert.equal((await api(rt.port, "control.set", { led: true })).status, 200, "open again");
  assert.deepEqual(errors, []);
});

async function until(pred, ms) {
  const t0 = Date.now();
  for (;;) {
    if (await pred()) return true;
    if (Date.now() - t0 > ms) return false;
    await sleep(50);
  }
}
