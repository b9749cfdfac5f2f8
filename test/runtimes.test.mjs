// tools/runtimes.mjs: starting bundles on the emulator, the Kaluma emulator and Espruino for
// Linux ($ESPRUINO_BIN), Storage written first, loopback-only listening, stop() that really
// stops. Fixtures: test/fixtures/runtime/storage-server.js (Espruino's APIs) and
// storage-server-kaluma.js (Kaluma's). Run: node --test test/runtimes.test.mjs
import test from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import net from "node:net";
import path from "node:path";
import crypto from "node:crypto";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  runtimes, startEspruino, startEmulator, startKalumaEmulator, freePort, canConnect, listeners, loopbackShim,
  writeStorage, readStorage, ESPRUINO_SKIP, TELNET_PORT,
} from "../tools/runtimes.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURE = path.join(here, "fixtures/runtime/storage-server.js");
const KALUMA = (r) => r.name === "kaluma-emu";
const fixtureOf = (r) => (KALUMA(r) ? path.join(here, "fixtures/runtime/storage-server-kaluma.js") : FIXTURE);
// Kaluma's driver opens sockets only with the Wi-Fi up: code that listens starts an access point
const netUp = (r, code) => (KALUMA(r) ? `new (require("wifi").WiFi)().wifiApMode({ ssid: "t", password: "password" }, function () { ${code} });` : code);
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "sprat-rt-test-"));
test.after(() => fs.rmSync(tmpDir, { recursive: true, force: true }));
let dirN = 0;
const freshDir = () => { const d = path.join(tmpDir, `d${dirN++}`); fs.mkdirSync(d); return d; };

const ALL = Buffer.alloc(256);
for (let i = 0; i < 256; i++) ALL[i] = i;
const ZIP = Buffer.concat([Buffer.from("PK\x03\x04"), ALL, crypto.randomBytes(3000)]);
const get = async (port, p) => {
  const r = await fetch(`http://127.0.0.1:${port}/${p}`);
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
};
const alive = (pid) => fs.existsSync(`/proc/${pid}`);
const onPath = (cmd) => (process.env.PATH || "").split(path.delimiter).some((d) => {
  try { fs.accessSync(path.join(d, cmd), fs.constants.X_OK); return true; } catch { return false; }
});

/** The checks every runtime must pass once started. */
async function servesStorage(rt) {
  assert.deepEqual(listeners(rt.port), [`127.0.0.1:${rt.port}`], "listens on 127.0.0.1 only");
  const zip = await get(rt.port, "web.zip");
  assert.equal(zip.status, 200);
  assert.ok(zip.body.equals(ZIP), `web.zip comes back byte for byte (${zip.body.length} of ${ZIP.length} bytes)`);
  const txt = await get(rt.port, "a.txt");
  assert.equal(txt.body.toString("utf8"), "héllo");
  assert.equal((await get(rt.port, "missing")).status, 404);
  assert.equal((await get(rt.port, "boots")).body.toString(), "1");
  const m = await rt.waitFor(/storage-server listening on (\d+)/);
  assert.equal(Number(m[1]), rt.port, "the bundle saw SPRAT_PORT");
}

/** stop() ends the process, frees the port and leaves no process behind. */
async function stopsCleanly(rt, ownDir) {
  const info = await rt.stop();
  assert.ok(info.code !== undefined, "stop() resolves with the exit status");
  assert.equal(alive(rt.pid), false, `process ${rt.pid} is gone`);
  assert.equal(await canConnect(rt.port), false, "port closed");
  assert.deepEqual(listeners(rt.port), []);
  if (ownDir) assert.equal(fs.existsSync(rt.cwd), false, "its temporary directory is removed");
  assert.deepEqual(await rt.stop(), info, "stop() twice is fine");
}

// ---------------------------------------------------------------- helpers

test("freePort gives a port that can be bound on 127.0.0.1", async () => {
  const p = await freePort();
  assert.ok(p > 0 && p < 65536);
  const srv = net.createServer();
  await new Promise((r, j) => srv.once("error", j).listen(p, "127.0.0.1", r));
  assert.deepEqual(listeners(p), [`127.0.0.1:${p}`]);
  await new Promise((r) => srv.close(r));
  assert.equal(await canConnect(p), false);
});

test("writeStorage/readStorage: files in an Espruino-layout image; other files stay", async () => {
  const flash = path.join(freshDir(), "x.flash");
  await writeStorage(flash, { "web.zip": ZIP, "s.json": '{"a":1}' });
  assert.equal(fs.statSync(flash).size, 262144);
  await writeStorage(flash, { "web.zip": ALL });
  assert.ok((await readStorage(flash, "web.zip")).equals(ALL));
  assert.equal((await readStorage(flash, "s.json")).toString(), '{"a":1}');
  assert.equal(await readStorage(flash, "nope"), undefined);
  await assert.rejects(writeStorage(flash, { ["x".repeat(29)]: "a" }), /longer than 28/);
  await assert.rejects(writeStorage(flash, { empty: Buffer.alloc(0) }), /zero length/);
});

test("the bind shim turns 0.0.0.0 into 127.0.0.1, and port 2323 into SPRAT_TELNET_PORT (checked with node as the program)", { skip: !onPath(process.env.CC || "cc") && "no C compiler on PATH: bind shim test skipped" }, async () => {
  const so = loopbackShim();
  assert.ok(fs.existsSync(so));
  assert.equal(loopbackShim(), so, "cached");
  const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
  const code = `const net = require("net");
    net.createServer().listen(${p1}, "0.0.0.0", () => net.createServer().listen(${p2}, "127.0.0.1", () =>
      net.createServer().listen(2323, "0.0.0.0", () => console.log("up"))));`;
  const child = spawn(process.execPath, ["-e", code], { env: { ...process.env, LD_PRELOAD: so, SPRAT_TELNET_PORT: String(p3) }, stdio: ["ignore", "pipe", "inherit"] });
  try {
    await new Promise((r, j) => { child.stdout.once("data", r); child.once("exit", () => j(new Error("child exited"))); });
    assert.deepEqual(listeners(p1), [`127.0.0.1:${p1}`], "INADDR_ANY rewritten");
    assert.deepEqual(listeners(p2), [`127.0.0.1:${p2}`], "other addresses untouched");
    assert.deepEqual(listeners(p3), [`127.0.0.1:${p3}`], "the telnet port moved");
  } finally {
    child.kill("SIGKILL");
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once("exit", r)));
  }
});

test("runtimes(): the emulator and kaluma-emu always; espruino only with ESPRUINO_BIN, else one skip reason", () => {
  const saved = process.env.SPRAT_RUNTIMES;
  delete process.env.SPRAT_RUNTIMES;
  let list;
  try { list = runtimes(); } finally { if (saved !== undefined) process.env.SPRAT_RUNTIMES = saved; }
  assert.equal(list[0].name, "emulator");
  assert.equal(list[0].start, startEmulator);
  assert.equal(list.at(-1).start, startKalumaEmulator);
  assert.equal(list.at(-1).profile, "kaluma-picow");
  if (process.env.ESPRUINO_BIN) {
    assert.deepEqual(list.map((r) => r.name), ["emulator", "espruino", "kaluma-emu"]);
    assert.deepEqual(list.missing, []);
  } else {
    assert.deepEqual(list.map((r) => r.name), ["emulator", "kaluma-emu"]);
    assert.deepEqual(list.missing, [{ name: "espruino", profile: "linux", skipReason: ESPRUINO_SKIP }]);
  }
});

test("startEspruino without a binary fails with the skip reason", async () => {
  await assert.rejects(startEspruino({ bin: "", bundle: FIXTURE }), (e) => e.message === ESPRUINO_SKIP);
  await assert.rejects(startEspruino({ bin: path.join(tmpDir, "no-such-espruino"), bundle: FIXTURE }), /no such file/);
});

// ---------------------------------------------------------------- every runtime

const RTS = runtimes();
for (const m of RTS.missing) test(`runtime ${m.name}`, { skip: m.skipReason }, () => {});

for (const r of RTS) {
  test(`${r.name}: serves Storage files written before the start; stop() really stops`, async (t) => {
    const rt = await r.start({ bundle: fixtureOf(r), storage: { "web.zip": ZIP, "a.txt": Buffer.from("héllo") } });
    t.after(() => rt.stop());
    t.diagnostic(`${r.name} accepted connections ${rt.startMs} ms after spawn`);
    await servesStorage(rt);
    await stopsCleanly(rt, r.name !== "emulator");
  });

  test(`${r.name}: a given port; the Storage image persists across restarts`, async (t) => {
    const dir = freshDir(), port = await freePort();
    const opts = r.name === "emulator" ? { flash: path.join(dir, "host.flash"), bundle: FIXTURE } : { cwd: dir, bundle: fixtureOf(r) };
    let rt = await r.start({ ...opts, port, storage: { "web.zip": ALL } });
    t.after(() => rt.stop());
    assert.equal(rt.port, port);
    assert.equal((await get(port, "boots")).body.toString(), "1");
    await rt.stop();
    assert.ok(fs.existsSync(rt.flash), "a given directory / image is kept");
    // keepFlash: same image, the web ZIP replaced, the bundle's own boots.json kept
    rt = await r.start({ ...opts, port, keepFlash: true, storage: { "web.zip": ZIP } });
    assert.equal((await get(port, "boots")).body.toString(), "2");
    assert.ok((await get(port, "web.zip")).body.equals(ZIP));
    await rt.stop();
    // keepFlash: false starts from an empty image
    rt = await r.start({ ...opts, port, keepFlash: false });
    assert.equal((await get(port, "boots")).body.toString(), "1");
    assert.equal((await get(port, "web.zip")).status, 404);
    await stopsCleanly(rt, false);
  });

  test(`${r.name}: code instead of a bundle file; waitFor; kill()`, async (t) => {
    const rt = await r.start({ code: netUp(r, `require("net").createServer(function(c){c.end("hi");}).listen(SPRAT_PORT);`) + `\nsetTimeout(function(){console.log("tick " + (6*7));}, 50);` }); // Kaluma's print() adds no newline
    t.after(() => rt.stop());
    assert.equal((await rt.waitFor(/tick (\d+)\r?\n/))[1], "42"); // up to the newline: output comes in chunks
    assert.equal(await rt.waitFor("tick 42"), "tick 42");
    await assert.rejects(rt.waitFor("never printed", 100), /no never printed within 100 ms[\s\S]*tick 42/);
    const info = await rt.kill();
    assert.equal(info.signal, "SIGKILL");
    assert.equal(alive(rt.pid), false);
    assert.equal(await canConnect(rt.port), false);
    await assert.rejects(rt.waitFor("x", 1000), /exited \(signal SIGKILL\)/);
  });

  test(`${r.name}: a bundle that never listens fails the start with its output`, async () => {
    const t0 = Date.now();
    await assert.rejects(r.start({ code: `print("no server " + "here"); setInterval(function(){}, 1000);`, timeout: 800 }),
      (e) => /did not accept connections on 127\.0\.0\.1:\d+ within 800 ms/.test(e.message) && e.message.includes("no server here"));
    assert.ok(Date.now() - t0 < 5000);
    await assert.rejects(r.start({ code: `print("bye");`, timeout: 1000 }),
      (e) => (r.name === "espruino" ? /exited \(code 0\) before listening/ : /did not accept/).test(e.message) && e.message.includes("bye"));
  });
}

// ---------------------------------------------------------------- Espruino only

const noEspruino = !process.env.ESPRUINO_BIN && ESPRUINO_SKIP;

test("espruino --telnet: REPL on 127.0.0.1:2323 only, app port too", { skip: noEspruino || (listeners(TELNET_PORT).length ? `port ${TELNET_PORT} is in use: telnet test skipped` : false) }, async (t) => {
  const rt = await startEspruino({ bundle: FIXTURE, telnet: true, storage: { "web.zip": ZIP } });
  t.after(() => rt.stop());
  assert.equal(rt.telnetPort, TELNET_PORT);
  assert.deepEqual(listeners(TELNET_PORT), [`127.0.0.1:${TELNET_PORT}`]);
  assert.deepEqual(listeners(rt.port), [`127.0.0.1:${rt.port}`]);
  assert.ok((await get(rt.port, "web.zip")).body.equals(ZIP));
  // the REPL answers over telnet
  const sock = net.connect(TELNET_PORT, "127.0.0.1");
  let got = "";
  sock.on("data", (d) => { got += d.toString("latin1"); });
  sock.on("error", () => {});
  await new Promise((r) => sock.once("connect", r));
  sock.write("print('sum='+(40+2))\r\n");
  const t0 = Date.now();
  while (!got.includes("sum=42") && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20));
  sock.destroy();
  assert.ok(got.includes("sum=42"), `telnet REPL output: ${JSON.stringify(got)}`);
  await stopsCleanly(rt, true);
});

test("espruino reads the Storage image written by the emulator's Storage", { skip: noEspruino }, async (t) => {
  const dir = freshDir();
  await writeStorage(path.join(dir, "espruino.flash"), { "b.bin": ALL, "c.json": '{"x":[1,2]}' });
  const rt = await startEspruino({
    cwd: dir, keepFlash: true,
    code: `var S=require("Storage"); print("list=" + JSON.stringify(S.list()) + " c=" + JSON.stringify(S.readJSON("c.json")) + " crc=" + E.CRC32(S.read("b.bin")));
      S.write("from-espruino", "written by espruino");
      require("net").createServer(function(c){c.end();}).listen(SPRAT_PORT);`,
  });
  t.after(() => rt.stop());
  await rt.waitFor(/crc=\d+/);
  assert.ok(rt.output().includes(`list=["b.bin","c.json"]`), rt.output());
  assert.ok(rt.output().includes(`c={"x":[1,2]}`));
  assert.ok(rt.output().includes(`crc=${(await import("node:zlib")).crc32(ALL)}`));
  await rt.stop();
  assert.equal((await readStorage(path.join(dir, "espruino.flash"), "from-espruino")).toString(), "written by espruino", "and the emulator reads what Espruino wrote");
});

// ---------------------------------------------------------------- npm start

const ROOT = path.resolve(here, "..");
/** node tools/start.mjs args...; resolves { child, out() } once it serves (or exited). */
async function npmStart(args, env = process.env) {
  const child = spawn(process.execPath, [path.join(ROOT, "tools/start.mjs"), ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exited = new Promise((r) => child.on("exit", (code, signal) => r({ code, signal })));
  const t0 = Date.now();
  while (!/serving http:\/\/127\.0\.0\.1:\d+\//.test(out) && child.exitCode === null && Date.now() - t0 < 60000) await new Promise((r) => setTimeout(r, 50));
  return { child, exited, out: () => out };
}

test("npm start --runtime espruino without ESPRUINO_BIN: one error line, exit 1", async () => {
  const env = { ...process.env };
  delete env.ESPRUINO_BIN;
  const s = await npmStart(["--runtime", "espruino"], env);
  const { code } = await s.exited;
  assert.equal(code, 1);
  assert.equal(s.out().trim().split("\n").length, 1, s.out());
  assert.match(s.out(), /ESPRUINO_BIN/);
});

for (const r of RTS) {
  test(`npm start --runtime ${r.name}: serves the dashboard on 127.0.0.1; Ctrl-C stops it (exit 0)`, {
    timeout: 90000,
  }, async (t) => {
    const s = await npmStart(["--runtime", r.name, "--port", "0"]);
    t.after(() => { if (s.child.exitCode === null) s.child.kill("SIGKILL"); });
    const m = s.out().match(new RegExp(`sprat \\((\\w[\\w-]*), ${r.name}\\) serving http://127\\.0\\.0\\.1:(\\d+)/`));
    assert.ok(m, s.out());
    assert.equal(m[1], r.profile);
    const port = Number(m[2]);
    assert.deepEqual(listeners(port), [`127.0.0.1:${port}`]);
    const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { "accept-encoding": "gzip, deflate" } });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<html/i);
    s.child.kill("SIGINT");
    assert.deepEqual(await s.exited, { code: 0, signal: null });
    assert.equal(await canConnect(port), false, "the runtime is gone too");
  });
}
