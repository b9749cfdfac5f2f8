// npm run upload / upload:web (tools/upload.mjs) against Espruino for Linux standing in for
// a board (test/helpers/espruino-board.mjs: interactive mode with its Telnet console, so a
// restart runs what is in its flash, like a power-on). The error cases that need no board
// run everywhere. Run: node --test test/deploy.test.mjs
import test from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import net from "node:net";
import path from "node:path";
import crypto from "node:crypto";
import { spawn } from "node:child_process";
import { ROOT, ESPRUINO_SKIP, freePort, canConnect, readStorage } from "../tools/runtimes.mjs";
import { ensureBundle, slots, PTR } from "../tools/deploy-lib.mjs";
import { packDir } from "../tools/pack-web.mjs";
import { buildWeb } from "../tools/build-web.mjs";
import { startBoard } from "./helpers/espruino-board.mjs";

const UPLOAD = path.join(ROOT, "tools/upload.mjs");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sprat-deploy-test-"));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs tools/upload.mjs; resolves {code, out, err, ms}. */
function upload(args, { timeout = 60000 } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const c = spawn(process.execPath, [UPLOAD, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    c.stdout.on("data", (d) => { out += d; });
    c.stderr.on("data", (d) => { err += d; });
    const timer = setTimeout(() => c.kill("SIGKILL"), timeout);
    c.on("close", (code, signal) => { clearTimeout(timer); resolve({ code, signal, out, err, ms: Date.now() - t0 }); });
  });
}
const show = (r) => `exit ${r.code}\n--- stdout ---\n${r.out}\n--- stderr ---\n${r.err}`;

/** A web app ZIP whose index.html says `text` (with the dashboard's app.js, if given: a real size). */
async function webZip(name, text, appJs) {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  if (appJs) fs.copyFileSync(appJs, path.join(dir, "app.js"));
  fs.writeFileSync(path.join(dir, "index.html"), `<!doctype html><title>${text}</title><p>${text}</p>`);
  const out = path.join(tmp, name + ".zip");
  await packDir(dir, out, { quiet: true });
  return out;
}

/** GET with the Accept-Encoding a browser sends (fetch inflates). */
async function get(port, p = "/") {
  const r = await fetch(`http://127.0.0.1:${port}${p}`, { headers: { "accept-encoding": "gzip, deflate" } });
  return { status: r.status, text: await r.text() };
}

/** A Storage file of the board's flash image, read from a copy (the board keeps running). */
async function readFlash(board, name) {
  const copy = path.join(tmp, `flash-copy-${process.hrtime.bigint()}`);
  fs.copyFileSync(board.flash, copy);
  try { return await readStorage(copy, name); } finally { fs.rmSync(copy, { force: true }); }
}

async function waitListening(port, ms = 5000) {
  const t0 = Date.now();
  while (!(await canConnect(port))) {
    if (Date.now() - t0 > ms) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

// ---- without a board ------------------------------------------------------------------

test("upload: a wrong port is a clear error and exit code 1", async () => {
  const port = await freePort();
  const r = await upload(["--port", `tcp://127.0.0.1:${port}`, "--profile", "linux"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.err, /cannot connect to tcp:\/\/127\.0\.0\.1:\d+: connection refused/);
  assert.ok(r.ms < 10000, `fails fast (${r.ms} ms)`);
  const s = await upload(["--port", "/dev/ttyNO-SUCH-PORT"]);
  assert.equal(s.code, 1, show(s));
  assert.match(s.err, /no serial port \/dev\/ttyNO-SUCH-PORT/);
});

test("upload: a port where no Espruino answers times out with a clear error", async (t) => {
  // accepts the connection, then says nothing (a wrong device, a wrong baud rate)
  const silent = net.createServer((s) => { s.on("data", () => {}); s.on("error", () => {}); });
  await new Promise((r) => silent.listen(0, "127.0.0.1", r));
  t.after(() => silent.close());
  silent.unref();
  const r = await upload(["--port", `tcp://127.0.0.1:${silent.address().port}`, "--timeout", "2000"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.err, /does not answer/);
  assert.ok(r.ms < 15000, `gives up in time (${r.ms} ms)`);
});

test("upload: bad arguments print the usage and exit 2", async () => {
  const r = await upload([]);
  assert.equal(r.code, 2, show(r));
  assert.match(r.err, /--port is required/);
  assert.match(r.err, /usage: npm run upload/);
  const w = await upload(["--port", "tcp://127.0.0.1:1", "--wifi-ssid", "x"]);
  assert.equal(w.code, 2, show(w));
  assert.match(w.err, /--wifi-ssid and --wifi-password go together/);
});

// ---- on Espruino for Linux ------------------------------------------------------------

test("upload and upload:web on Espruino for Linux (boot code, slots, errors, timings)", { skip: process.env.ESPRUINO_BIN ? false : ESPRUINO_SKIP, timeout: 180000 }, async (t) => {
  const cwd = path.join(tmp, "board");
  const bundle = ensureBundle("linux");
  const dash = path.join(tmp, "dash");
  await buildWeb({ out: path.join(dash, "web.zip"), stage: path.join(dash, "stage"), quiet: true });
  const v2 = await webZip("v2", "version two", path.join(dash, "stage/app.js")), v3 = await webZip("v3", "version three");
  const http = await freePort();
  const [A, B] = slots("web.zip");
  let board = await startBoard({ cwd });
  t.after(() => board.kill());

  await t.test("upload: builds are written, checked, and the app starts (load())", async () => {
    const r = await upload(["--port", board.url, "--profile", "linux", "--http-port", String(http), "--bundle", bundle, "--zip", path.join(dash, "web.zip")]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.out, /LINUX, Espruino 2v\d+/);
    assert.match(r.out, /reset\(\)/);
    assert.match(r.out, /\.bootcde \(app bundle\)\s+[\d.]+ KB in [\d.]+ s .*CRC-32 [0-9a-f]{8} checked on the board/);
    assert.match(r.out, new RegExp(`done in [\\d.]+ s: http://127\\.0\\.0\\.1:${http}/`));
    for (const m of r.out.matchAll(/^\s+(\S+) \((web ZIP|app bundle)\)\s+([\d.]+ K?B) in ([\d.]+) s \(([\d.]+ K?B)\/s\)/gm))
      t.diagnostic(`${m[2]} (${m[1]}): ${m[3]} in ${m[4]} s (${m[5]}/s); whole upload ${r.ms} ms`);
    const home = await get(http);
    assert.equal(home.status, 200);
    assert.match(home.text, /<html|<!doctype/i, "the dashboard is served");
    const st = await fetch(`http://127.0.0.1:${http}/api/status`).then((x) => x.json());
    assert.equal(st.profile, "linux");
  });

  await t.test("after a power cycle the board runs the app from .bootcde", async () => {
    await board.kill();
    assert.equal(await canConnect(http), false);
    board = await startBoard({ cwd });
    assert.ok(await waitListening(http), `the app listens again on ${http} after the restart\n${board.output()}`);
    assert.equal((await get(http)).status, 200);
    const st = await fetch(`http://127.0.0.1:${http}/api/status`).then((x) => x.json());
    assert.equal(st.profile, "linux");
  });

  await t.test("upload:web: new ZIP in the other slot, served without a restart; .bootcde byte for byte the same", async () => {
    const code0 = await readFlash(board, ".bootcde");
    const ptr0 = (await readFlash(board, PTR)).toString("latin1");
    const pid = board.pid;
    const r = await upload(["--port", board.url, "--web", "--zip", v2]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.out, /profile linux/, "the profile is found from process.env.BOARD");
    assert.doesNotMatch(r.out, /reset\(\)/, "no reset: the app keeps running");
    const m = r.out.match(/web ZIP\)\s+([\d.]+ K?B) in ([\d.]+) s \(([\d.]+ K?B)\/s\)/);
    assert.ok(m, r.out);
    t.diagnostic(`upload:web: ${m[1]} in ${m[2]} s (${m[3]}/s); whole command ${r.ms} ms`);
    const ptr1 = (await readFlash(board, PTR)).toString("latin1");
    assert.deepEqual([ptr0, ptr1].sort(), [A, B], `the pointer moved to the other slot (${ptr0} -> ${ptr1})`);
    const home = await get(http);
    assert.equal(home.status, 200);
    assert.match(home.text, /version two/, "the running app serves the new ZIP");
    assert.equal(board.pid, pid);
    assert.ok(fs.existsSync(`/proc/${pid}`), "same process: no restart");
    const code1 = await readFlash(board, ".bootcde");
    assert.ok(code0 && code1 && code0.equals(code1), ".bootcde is unchanged");
    // once more: back into the first slot
    const r3 = await upload(["--port", board.url, "--web", "--zip", v3, "--profile", "linux"]);
    assert.equal(r3.code, 0, show(r3));
    assert.equal((await readFlash(board, PTR)).toString("latin1"), ptr0);
    assert.match((await get(http)).text, /version three/);
    assert.ok((await readFlash(board, ".bootcde")).equals(code0));
  });

  await t.test("errors: profile/board mismatch, not enough Storage, and nothing changes", async () => {
    const ptr = (await readFlash(board, PTR)).toString("latin1");
    const r = await upload(["--port", board.url, "--profile", "esp32", "--zip", v2]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.err, /profile\/board mismatch: profile esp32 is for board ESP32, but the board on tcp:\/\/127\.0\.0\.1:\d+ is LINUX .*use --profile linux/);
    const bigDir = path.join(tmp, "big");
    fs.mkdirSync(bigDir);
    fs.writeFileSync(path.join(bigDir, "index.html"), "<p>big");
    fs.writeFileSync(path.join(bigDir, "noise.bin"), crypto.randomBytes(300 * 1024)); // stored: more than Linux's 256 KB
    const big = path.join(tmp, "big.zip");
    await packDir(bigDir, big, { quiet: true });
    const s = await upload(["--port", board.url, "--web", "--zip", big]);
    assert.equal(s.code, 1, show(s));
    assert.match(s.err, /not enough Storage on the board: this upload needs \d+ bytes, \d+ are free or reclaimable/);
    const notApp = await upload(["--port", board.url, "--web", "--zip", path.join(ROOT, "package.json")]);
    assert.equal(notApp.code, 1, show(notApp));
    assert.match(notApp.err, /package\.json is not a ZIP file/);
    assert.equal((await readFlash(board, PTR)).toString("latin1"), ptr, "the pointer is untouched");
    assert.match((await get(http)).text, /version three/, "the app still serves the same web app");
  });
});
