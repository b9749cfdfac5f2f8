// sprat on Kaluma (Raspberry Pi Pico W), against the Kaluma emulator (tools/kaluma-emu): the
// binding src/runtime/kaluma.ts and the kaluma-picow bundle, built through the real pipeline.
// Run: node --test test/kaluma.test.mjs
//
// 1. The device app in the emulator CLI (tools/runtimes.mjs startKalumaEmulator), as the HTTP
//    suite does it: every static file byte-exact in each encoding (raw wire bytes, and undici's
//    fetch decoding them), keep-alive, parallel connections, REST, WebSocket echo and JSON-RPC,
//    a web-app update over HTTP into LittleFS and its roll-back.
// 2. Network bring-up (src/runtime/network.ts "kaluma-wifi"): wifi.json, Kaluma's stored
//    credentials, the setup access point and its /setup page, the watchdog reboot.
// 3. In-process (createKaluma) for what a test must reach into: a slow link where lwIP refuses
//    pieces (ERR_MEM), Kaluma 1.2.1's as-shipped data routing, its net module's missing
//    'drain', and the binding's store/file over LittleFS.
//
// The integration suites (http, ws-kaluma, ota, e2e, keepalive, abuse, auth, runtimes) run on
// kaluma-emu too (tools/runtimes.mjs runtimes(); docs/runtimes.md says what differs there).
import test, { describe, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import net from "node:net";
import WebSocket from "ws";
import { rollup } from "rollup";
import { loadProfile } from "../tools/profiles.mjs";
import { bundleConfig } from "../tools/build-lib.mjs";
import { startKalumaEmulator, freePort, ROOT } from "../tools/runtimes.mjs";
import { createKaluma } from "../tools/kaluma-emu/index.mjs";
import { packDir } from "../tools/pack-web.mjs";
import { readZip, wireBody, etagFor } from "./helpers/http-zip.mjs";
import { RawConn, request, sleep } from "./helpers/http-client.mjs";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sprat-kaluma-test-"));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const SITE = path.join(ROOT, "test/fixtures/http/site");
const PROFILE = loadProfile(path.join(ROOT, "board-profiles/kaluma-picow.json"));

// ---------------------------------------------------------------- builds and fixtures

async function build(values, { input, outDir, name } = {}) {
  const profile = { ...PROFILE, values: { ...PROFILE.values, ...values } };
  const cwd = process.cwd();
  process.chdir(ROOT); // bundleConfig's paths are relative to the repository
  try {
    const cfg = bundleConfig(profile, { input, outDir, quiet: true });
    if (name) cfg.output = { ...cfg.output, name };
    const b = await rollup(cfg);
    try { await b.write(cfg.output); } finally { await b.close(); }
  } finally { process.chdir(cwd); }
  return path.join(ROOT, outDir, "app.min.js");
}

let built;
/** The app (echo on, short timeouts) and the binding alone (its exports as the global K). */
function builds() {
  built ??= Promise.all([
    build({ echo: true, headTimeout: 1500, idleTimeout: 3000 }, { outDir: "build/test-kaluma" }),
    build({}, { input: "src/runtime/kaluma.ts", outDir: "build/test-kaluma-binding", name: "K" }),
  ]).then(([app, binding]) => ({ app, binding }));
  return built;
}

function prng(seed) {
  let x = seed >>> 0;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}

let zips;
/** The fixture site plus big files (compressible text, incompressible binary), and a v2. */
function sites() {
  zips ??= (async () => {
    const stage = (name, index) => {
      const dir = path.join(tmp, name);
      fs.cpSync(SITE, dir, { recursive: true });
      const r = prng(7), words = ["sprat", "kaluma", "pico", "lwip", "littlefs", "chunk", "drain", "jerry"];
      let text = "";
      for (let i = 0; text.length < 60000; i++) text += `${i} ${Array.from({ length: 9 }, () => words[r() % words.length]).join(" ")}\n`;
      fs.writeFileSync(path.join(dir, "big.txt"), text);
      const bin = Buffer.alloc(40000);
      for (let i = 0; i < bin.length; i += 4) bin.writeUInt32LE(r(), i);
      fs.writeFileSync(path.join(dir, "big.bin"), bin);
      fs.writeFileSync(path.join(dir, "caf\u00e9.txt"), "caf\u00e9\n");
      if (index) fs.writeFileSync(path.join(dir, "index.html"), `<!doctype html><title>v2</title><p>${index}</p>\n`);
      return packDir(dir, null, { quiet: true });
    };
    const [v1, v2] = await Promise.all([stage("v1"), stage("v2", "version two")]);
    return { v1: v1.zip, v2: v2.zip, entries: readZip(v1.zip), entries2: readZip(v2.zip) };
  })();
  return zips;
}

const urlOf = (name) => "/" + name.split("/").map((s) => encodeURIComponent(Buffer.from(s, "latin1").toString("utf8"))).join("/");
const hex8 = (n) => (n >>> 0).toString(16).padStart(8, "0");

/** Checks one response body against an entry in an encoding ("gzip", "deflate", ""). */
function checkWire(ent, enc, body, what) {
  if (enc === "gzip") {
    assert.deepEqual([...body.subarray(0, 3)], [0x1f, 0x8b, 8], `${what}: gzip header`);
    assert.ok(body.subarray(10).equals(wireBody(ent, "gzip")), `${what}: gzip payload and trailer`);
    assert.ok(zlib.gunzipSync(body).equals(ent.content), `${what}: gunzip`);
  } else if (enc === "deflate") {
    assert.ok(body.equals(wireBody(ent, "deflate")), `${what}: zlib stream`);
    assert.ok(zlib.inflateSync(body).equals(ent.content), `${what}: inflate`);
  } else assert.ok(body.equals(ent.content), `${what}: identity body (${body.length} of ${ent.content.length} bytes)`);
}

/** Opens a WebSocket; resolves once open. */
function wsOpen(port, p, protocol) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${p}`, protocol ? [protocol] : undefined);
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}
const nextMessage = (ws, pred = () => true, ms = 5000) => new Promise((resolve, reject) => {
  const t = setTimeout(() => { ws.off("message", on); reject(new Error("no message within " + ms + " ms")); }, ms);
  const on = (data, isBinary) => { if (pred(data, isBinary)) { clearTimeout(t); ws.off("message", on); resolve({ data, isBinary }); } };
  ws.on("message", on);
});

// ---------------------------------------------------------------- 1. the app in the emulator CLI

describe("kaluma-emu: the device app (kaluma-picow) over the emulated Pico W", () => {
  let rt, port, fx;
  before(async () => {
    const [b, z] = await Promise.all([builds(), sites()]);
    fx = z;
    rt = await startKalumaEmulator({ bundle: b.app, storage: { "web.zip": z.v1 }, timeout: 8000 });
    port = rt.port;
  });
  after(async () => {
    if (!rt) return;
    const out = rt.output();
    await rt.stop();
    assert.doesNotMatch(out, /Uncaught|EMULATOR WARNING/, "no errors on the device's console:\n" + out);
  });

  test("boots: no wifi.json, so the setup access point (WPA2: Kaluma has no open one)", () => {
    assert.match(rt.output(), /sprat: setup access point sprat-setup \(password sprat-setup\)/);
    assert.match(rt.output(), /sprat \(kaluma-picow\) listening on port \d+/);
  });

  test("every static file byte-exact, as gzip, deflate and identity (raw wire bytes)", async () => {
    for (const ent of fx.entries.values()) {
      for (const enc of ["gzip", "deflate", "identity"]) {
        const r = await request(port, { path: urlOf(ent.name), headers: { "accept-encoding": enc } });
        const what = `${ent.name} (${enc})`;
        if (ent.method === 8 && enc === "identity") { assert.equal(r.status, 406, what); continue; }
        assert.equal(r.status, 200, what);
        const sent = ent.method === 8 ? enc : "";
        assert.equal(r.headers["content-encoding"], sent || undefined, what);
        assert.equal(r.headers.etag, etagFor(ent, sent), what);
        assert.equal(Number(r.headers["content-length"]), r.body.length, what);
        checkWire(ent, sent, r.body, what);
      }
    }
  });

  test("undici's fetch decodes every file to the original bytes (gzip, deflate)", async () => {
    for (const ent of fx.entries.values()) {
      for (const enc of ["gzip", "deflate"]) {
        const res = await fetch(`http://127.0.0.1:${port}${urlOf(ent.name)}`, { headers: { "accept-encoding": enc } });
        assert.equal(res.status, 200, ent.name);
        assert.ok(Buffer.from(await res.arrayBuffer()).equals(ent.content), `${ent.name} via fetch (${enc})`);
      }
    }
  });

  test("keep-alive: ten requests on one connection; four big downloads in parallel", async () => {
    const c = await RawConn.open(port), small = ["tiny.txt", "data.json", "hello world.txt"];
    try {
      for (let i = 0; i < 10; i++) {
        const ent = fx.entries.get(small[i % 3]);
        c.write(`GET ${urlOf(ent.name)} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n`);
        const r = await c.response();
        assert.equal(r.statusLine, "HTTP/1.1 200 OK");
        checkWire(ent, ent.method === 8 ? "gzip" : "", r.body, `response ${i}`);
      }
    } finally { c.destroy(); }
    const names = ["big.bin", "big.txt", "big.bin", "big.txt"];
    const bodies = await Promise.all(names.map((n) => fetch(`http://127.0.0.1:${port}/${n}`).then((r) => r.arrayBuffer())));
    bodies.forEach((b, i) => assert.ok(Buffer.from(b).equals(fx.entries.get(names[i]).content), names[i]));
  });

  test("REST: status (LittleFS free space, JerryScript heap), control.set, control.get", async () => {
    const s = await (await fetch(`http://127.0.0.1:${port}/api/status`)).json();
    assert.equal(s.profile, "kaluma-picow");
    assert.match(s.version, /^kaluma /);
    assert.equal(s.flash.total, 524288);
    assert.ok(s.flash.free > 0 && s.flash.free <= 524288 - fx.v1.length, `flash.free ${s.flash.free}`);
    assert.equal(s.mem.total, 180 * 1024);
    const set = await fetch(`http://127.0.0.1:${port}/api/control.set`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ led: true, level: 70 }) });
    assert.equal(set.status, 200);
    assert.deepEqual(await set.json(), { led: true, level: 70 });
    assert.deepEqual(await (await fetch(`http://127.0.0.1:${port}/api/control.get`)).json(), { led: true, level: 70 });
  });

  test("WebSocket: /echo text and a 200 KB binary message; /ws JSON-RPC and telemetry", async () => {
    const echo = await wsOpen(port, "/echo");
    try {
      const text = "κόσμε " + "x".repeat(3000);
      let m = nextMessage(echo);
      echo.send(text);
      assert.equal((await m).data.toString("utf8"), text);
      const big = Buffer.alloc(200000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 8)) & 255;
      m = nextMessage(echo, (d, bin) => bin, 20000);
      echo.send(big);
      assert.ok(Buffer.from((await m).data).equals(big), "binary echo");
    } finally { echo.close(); }
    const ws = await wsOpen(port, "/ws", "sprat.v1");
    try {
      assert.equal(ws.protocol, "sprat.v1");
      let m = nextMessage(ws, (d) => JSON.parse(d).id === 1);
      ws.send(JSON.stringify({ id: 1, method: "control.get" }));
      assert.deepEqual(JSON.parse((await m).data), { id: 1, result: { led: true, level: 70 } });
      m = nextMessage(ws, (d) => JSON.parse(d).method === "telemetry");
      ws.send(JSON.stringify({ id: 2, method: "subscribe", params: { topics: ["telemetry"] } }));
      const t = JSON.parse((await m).data).params;
      // E.getTemperature(): kaluma-globals.ts reads the RP2040 sensor (analogRead(30))
      assert.ok(t.temp > 15 && t.temp < 35, `telemetry temp ${t.temp}`);
    } finally { ws.close(); }
  });

  test("web-app update: PUT /api/web streams into LittleFS, the pointer switches, roll-back", async () => {
    const crc = hex8(zlib.crc32(fx.v2));
    const put = await request(port, { method: "PUT", path: "/api/web", headers: { "content-length": fx.v2.length, "x-sprat-size": fx.v2.length, "x-sprat-crc32": crc }, body: fx.v2 });
    assert.equal(put.status, 200, put.body.toString());
    assert.equal(JSON.parse(put.body).crc, crc);
    assert.ok(fs.readFileSync(path.join(rt.flash, "web.zip~")).equals(fx.v2), "the new slot holds the upload, byte for byte");
    assert.equal(fs.readFileSync(path.join(rt.flash, "web.ptr"), "latin1"), "web.zip~");
    const idx = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    assert.ok(Buffer.from(idx).equals(fx.entries2.get("index.html").content), "the new app is served");
    const back = await request(port, { method: "POST", path: "/api/web/rollback", headers: { "content-length": 0 } });
    assert.equal(back.status, 200, back.body.toString());
    assert.equal(fs.readFileSync(path.join(rt.flash, "web.ptr"), "latin1"), "web.zip");
    const idx1 = Buffer.from(await (await fetch(`http://127.0.0.1:${port}/`)).arrayBuffer());
    assert.ok(idx1.equals(fx.entries.get("index.html").content), "the old app again");
  });
});

// ---------------------------------------------------------------- 2. network bring-up

describe("kaluma-emu: Wifi bring-up (network.ts, kaluma-wifi)", () => {
  test("wifi.json joins the network and prints the address", async (t) => {
    const { app } = await builds();
    const rt = await startKalumaEmulator({ bundle: app, storage: { "wifi.json": JSON.stringify({ ssid: "Home Net", password: "s3cret!!" }) }, wifi: { "Home Net": "s3cret!!" } });
    t.after(() => rt.stop());
    await rt.waitFor("sprat: ip 127.0.0.1");
    assert.match(rt.output(), /wifi: joined "Home Net"/);
    assert.doesNotMatch(rt.output(), /access point/);
    assert.doesNotMatch(await (await fetch(`http://127.0.0.1:${rt.port}/setup`)).text(), /Wifi for this device/, "no setup page outside setup mode");
  });

  test("without wifi.json, Kaluma's stored WIFI_SSID/WIFI_PASSWORD are used", async (t) => {
    const { app } = await builds();
    const rt = await startKalumaEmulator({ bundle: app, kv: { WIFI_SSID: "Home Net", WIFI_PASSWORD: "s3cret!!" }, wifi: { "Home Net": "s3cret!!" } });
    t.after(() => rt.stop());
    await rt.waitFor("sprat: ip 127.0.0.1");
  });

  test("setup: the access point's /setup saves wifi.json; the watchdog reboot then joins", async (t) => {
    const { app } = await builds();
    const rt = await startKalumaEmulator({ bundle: app, wifi: { "Home Net": "s3cret!!" } });
    t.after(() => rt.stop());
    await rt.waitFor("setup access point sprat-setup");
    const form = await fetch(`http://127.0.0.1:${rt.port}/setup`);
    assert.match(await form.text(), /Wifi for this device/);
    const r = await fetch(`http://127.0.0.1:${rt.port}/setup`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "ssid=Home+Net&password=s3cret%21%21" });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(rt.flash, "wifi.json"), "utf8")), { ssid: "Home Net", password: "s3cret!!" });
    await rt.waitFor("[kaluma-emu] reboot", 5000);
    await rt.waitFor("sprat: ip 127.0.0.1", 5000);
    await rt.waitFor(/listening on 127\.0\.0\.1:\d+[^]*listening on 127\.0\.0\.1:\d+/, 5000); // the new instance's server
    assert.equal((await request(rt.port, { path: "/api/status" })).status, 200, "serving again after the reboot");
  });
});

// ---------------------------------------------------------------- 3. in process

/** The app (or any script) in an in-process emulator on a fresh LittleFS directory. */
async function boot(t, code, { files = {}, wait = /listening on port/, ...opts } = {}) {
  const dir = fs.mkdtempSync(path.join(tmp, "lfs-"));
  for (const [n, d] of Object.entries(files)) fs.writeFileSync(path.join(dir, n), d);
  const lines = [];
  const port = await freePort();
  const emu = createKaluma({ dir, log: (l) => lines.push(l), ...opts });
  emu.global.SPRAT_PORT = port;
  t.after(() => emu.stop());
  emu.run(code);
  const t0 = Date.now();
  while (wait && !lines.some((l) => wait.test(l)) && Date.now() - t0 < 3000) await sleep(10);
  return { emu, port, dir, lines };
}

test("a slow link: pieces lwIP refuses (ERR_MEM) are retried, the body arrives whole", async (t) => {
  const [{ app }, fx] = await Promise.all([builds(), sites()]);
  const { emu, port, lines } = await boot(t, fs.readFileSync(app, "latin1"), { files: { "web.zip": fx.v1 }, linkRate: 64 });
  const r = await request(port, { path: "/big.bin" });
  assert.equal(r.status, 200);
  assert.ok(r.body.equals(fx.entries.get("big.bin").content), "big.bin byte-exact");
  assert.ok(emu.stats.errMem > 0, `lwIP refused pieces (${emu.stats.errMem} times)`);
  assert.deepEqual(emu.errors, [], lines.join("\n"));
});

test("Kaluma 1.2.1 as shipped: one connection at a time works; a second one gets the first one's data", async (t) => {
  const [{ app }, fx] = await Promise.all([builds(), sites()]);
  const { emu, port } = await boot(t, fs.readFileSync(app, "latin1"), { files: { "web.zip": fx.v1 }, routing: "shipped" });
  const c = await RawConn.open(port);
  try {
    for (let i = 0; i < 3; i++) {
      c.write("GET /tiny.txt HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal((await c.response()).statusLine, "HTTP/1.1 200 OK", `sequential request ${i}`);
    }
  } finally { c.destroy(); }
  await sleep(100);
  // the driver freed the closed connection's fd (the binding's close_cb saw the FIN)
  assert.equal(emu.slots.filter((s) => s.fd >= 0).length, 1, "only the listener is left");
  const a = await RawConn.open(port), b = await RawConn.open(port);
  try {
    await sleep(100);
    a.write("GET /tiny.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    const misrouted = await b.response();
    assert.equal(misrouted.statusLine, "HTTP/1.1 200 OK", "B answers A's request: module_pico_cyw43.c hands all data to the listener");
    await sleep(300);
    assert.equal(a.buf.length, 0, "A gets nothing");
  } finally { a.destroy(); b.destroy(); }
});

test("Kaluma's net module never emits 'drain' over the Pico W driver (why the binding does not use it)", async (t) => {
  const port = await freePort();
  const { lines } = await boot(t, `
    var drains = 0;
    new (require("wifi").WiFi)().wifiApMode({ ssid: "t", password: "12345678" }, function () {
      require("net").createServer(function (c) {
        c.on("drain", function () { drains++; });
        var ok = c.write("hello");
        setTimeout(function () { console.log("write returned " + ok + ", drains " + drains); c.end(); }, 300);
      }).listen(${port}, function () { console.log("up"); });
    });`, { wait: /^up$/ });
  const s = net.connect(port, "127.0.0.1");
  const got = await new Promise((resolve) => { let d = ""; s.on("data", (b) => { d += b; }); s.on("end", () => resolve(d)); });
  assert.equal(got, "hello", "the data is sent");
  assert.ok(lines.includes("write returned false, drains 0"), lines.join("\n"));
});

test("the binding's store and file over LittleFS: binary-safe, positioned, piecewise, views", async (t) => {
  const { binding } = await builds();
  const { emu, dir } = await boot(t, fs.readFileSync(binding, "latin1"), { wait: null });
  const K = emu.global.K, S = K.store;
  let all = "";
  for (let i = 0; i < 256; i++) all += String.fromCharCode(i);
  assert.equal(S.write("bytes.bin", all), true);
  assert.ok(fs.readFileSync(path.join(dir, "bytes.bin")).equals(Buffer.from(all, "latin1")), "on flash byte for byte");
  assert.equal(S.read("bytes.bin"), all);
  assert.equal(S.read("bytes.bin", 250), all.slice(250));
  assert.equal(S.read("bytes.bin", 10, 5), all.slice(10, 15));
  assert.equal(S.read("bytes.bin", 300, 5), "");
  assert.equal(S.read("missing"), undefined);
  assert.equal(K.file("missing"), undefined);
  // an upload's pieces, as ota.ts writes them: (name, piece, offset, size)
  const big = Buffer.alloc(30000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 255;
  for (let o = 0; o < big.length; o += 1000) S.write("up.bin", big.toString("latin1", o, o + 1000), o, big.length);
  assert.ok(fs.readFileSync(path.join(dir, "up.bin")).equals(big));
  const v = S.read("up.bin"); // bigger than 4 KB: a view, like a memory-mapped Storage string
  assert.equal(typeof v, "object");
  assert.equal(v.length, big.length);
  assert.equal(v.substr(29990), big.toString("latin1", 29990));
  assert.equal(v.substr(-4), big.toString("latin1", 29996));
  assert.equal(v.substr(1000, 3000), big.toString("latin1", 1000, 4000));
  assert.equal(v.substr(29999, 100), big.toString("latin1", 29999));
  assert.equal(K.file("bytes.bin").substr(0), all);
  assert.deepEqual([...S.list()].sort(), ["bytes.bin", "up.bin"]);
  const free = S.getFree();
  assert.ok(free < 524288 - 8 * 4096 && free > 400000, `getFree ${free}`);
  assert.ok(Math.abs(free - (128 - emu.usedBlocks()) * 4096) <= 4096, `estimate ${free} vs the emulated LittleFS's ${(128 - emu.usedBlocks()) * 4096}`);
  S.erase("up.bin");
  assert.equal(S.read("up.bin"), undefined);
  assert.ok(S.getFree() > free);
  // LittleFS is copy-on-write: a write that does not fit fails and leaves the old file
  S.write("keep.bin", "old");
  assert.throws(() => S.write("keep.bin", "x".repeat(600000)), /No space left on device/);
  assert.equal(S.read("keep.bin"), "old");
});
