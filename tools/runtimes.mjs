// Starting a sprat bundle on a runtime, the same way for every runtime, so integration
// tests can loop over them:
//
//   import { runtimes } from "../tools/runtimes.mjs";
//   const rts = runtimes();
//   for (const r of rts) test(`x on ${r.name}`, async (t) => {
//     const rt = await r.start({ bundle: `build/${r.profile}/app.min.js`, storage: { "web.zip": zip } });
//     t.after(() => rt.stop());
//     ... fetch(`http://127.0.0.1:${rt.port}/`) ...
//   });
//   for (const m of rts.missing) test(`x on ${m.name}`, { skip: m.skipReason }, () => {});
//
// Runtimes:
//   emulator  node tools/emu/cli.mjs as a child process (always available)
//   espruino  Espruino for Linux (ESPRUINO_BIN), run with LD_PRELOAD=build/loopback-bind.so
//             (tools/loopback-bind.c) so its servers and telnet bind 127.0.0.1, not 0.0.0.0
//   kaluma-emu  node tools/kaluma-emu/cli.mjs (Kaluma 1.2.1 on a Pico W, emulated from its
//             sources; profile kaluma-picow; always available). Its Storage is LittleFS, a
//             host directory (the handle's `flash`): suites write and corrupt files there
//             where they use Storage images on the Espruino runtimes.
// SPRAT_RUNTIMES=name,name (a comma list) picks runtimes by name instead of all available.
//
// Every start*() resolves once 127.0.0.1:<port> accepts TCP connections, with
//   { name, port, pid, cwd, flash, output(), waitFor(pattern, ms), stop(), kill(), exited, stdin }
// and rejects (with the runtime's output so far) if it exits or does not listen in time.
// The bundle sees the port as the global SPRAT_PORT.
import fs from "node:fs";
import os from "node:os";
import net from "node:net";
import path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createEspruino } from "./emu/index.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const EMU_CLI = path.join(ROOT, "tools/emu/cli.mjs");
const KALUMA_CLI = path.join(ROOT, "tools/kaluma-emu/cli.mjs");
const SHIM_SRC = path.join(ROOT, "tools/loopback-bind.c");
const SHIM_SO = path.join(ROOT, "build/loopback-bind.so");

/** Storage of Espruino for Linux (2v29): one image file ./espruino.flash in its cwd. */
export const ESPRUINO_FLASH = { flashSize: 262144, pageSize: 1024, file: "espruino.flash" };
/** The Linux build's telnet console port (`--telnet`), fixed. */
export const TELNET_PORT = 2323;

export const ESPRUINO_SKIP = "ESPRUINO_BIN not set: real Espruino tests skipped (see README 'Real runtimes')";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Children still running when this process exits are killed (a failed test must not leave
// an Espruino spinning at 100% CPU).
const live = new Set();
process.on("exit", () => { for (const c of live) try { c.kill("SIGKILL"); } catch { /* gone */ } });

/** A TCP port that is free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Does 127.0.0.1:port accept a TCP connection? */
export function canConnect(port, ms = 250) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: "127.0.0.1" });
    const done = (ok) => { clearTimeout(timer); s.destroy(); resolve(ok); };
    const timer = setTimeout(() => done(false), ms);
    s.on("connect", () => done(true));
    s.on("error", () => done(false));
  });
}

// Readiness is "the port accepts connections": someone else's server there would fool it.
async function portIsFree(port) {
  if (await canConnect(port)) throw new Error(`127.0.0.1:${port} is already in use`);
}

/**
 * The local addresses listening on `port`, from /proc/net/tcp and /proc/net/tcp6 (Linux):
 * e.g. ["127.0.0.1:8080"], ["0.0.0.0:8080"], ["[::]:8080"].
 */
export function listeners(port) {
  const out = [];
  for (const [file, v6] of [["/proc/net/tcp", false], ["/proc/net/tcp6", true]]) {
    let text;
    try { text = fs.readFileSync(file, "latin1"); } catch { continue; }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== "0A") continue; // 0A = TCP_LISTEN
      const [hexIp, hexPort] = f[1].split(":");
      if (parseInt(hexPort, 16) !== port) continue;
      let ip;
      if (!v6) ip = Buffer.from(hexIp, "hex").reverse().join("."); // little-endian u32
      else if (/^0+$/.test(hexIp)) ip = "[::]";
      else if (hexIp === "00000000000000000000000001000000") ip = "[::1]";
      else ip = `[${hexIp}]`;
      out.push(`${ip}:${port}`);
    }
  }
  return out;
}

/**
 * build/loopback-bind.so, compiled from tools/loopback-bind.c when missing or older than
 * the source. Needs a C compiler ($CC or cc).
 */
export function loopbackShim() {
  const src = fs.statSync(SHIM_SRC);
  let so = null;
  try { so = fs.statSync(SHIM_SO); } catch { /* not built yet */ }
  if (so && so.mtimeMs >= src.mtimeMs) return SHIM_SO;
  const cc = process.env.CC || "cc";
  fs.mkdirSync(path.dirname(SHIM_SO), { recursive: true });
  const tmp = `${SHIM_SO}.${process.pid}.tmp`; // test files build in parallel: rename atomically
  const r = spawnSync(cc, ["-shared", "-fPIC", "-O2", "-o", tmp, SHIM_SRC, "-ldl"], { encoding: "utf8" });
  if (r.error && r.error.code === "ENOENT") {
    throw new Error(`no C compiler ("${cc}" not found): Espruino for Linux is run with an LD_PRELOAD shim ` +
      `(tools/loopback-bind.c) so that it listens on 127.0.0.1 only; install one (e.g. apt-get install gcc) or set CC`);
  }
  if (r.error || r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`${cc} tools/loopback-bind.c failed:\n${r.stderr || r.error}`);
  }
  fs.renameSync(tmp, SHIM_SO);
  return SHIM_SO;
}

const toBinary = (v) => {
  if (typeof v === "string") return Buffer.from(v, "utf8").toString("latin1");
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("latin1");
  throw new TypeError("Storage file contents must be a Buffer, Uint8Array or string");
};

/**
 * Writes files into a Storage image (created 0xFF-filled if missing, else updated in place:
 * other files stay) with the emulator's Storage (tools/emu/storage.mjs), which lays the
 * image out like Espruino does. files: { name: Buffer | Uint8Array | string (UTF-8) }.
 */
export async function writeStorage(flash, files, { flashSize = ESPRUINO_FLASH.flashSize, pageSize = ESPRUINO_FLASH.pageSize } = {}) {
  fs.mkdirSync(path.dirname(path.resolve(flash)), { recursive: true });
  const emu = createEspruino({ flash: path.resolve(flash), flashSize, pageSize, log: () => {} });
  try {
    const S = emu.global.require("Storage");
    for (const [name, data] of Object.entries(files || {})) {
      if (name.length > 28) throw new Error(`Storage name "${name}" is longer than 28 characters`);
      let ok;
      try { ok = S.write(name, toBinary(data)); } catch (e) { throw new Error(`Storage.write("${name}") into ${flash}: ${e && e.message}`); }
      if (ok !== true) throw new Error(`Storage.write("${name}") into ${flash} failed`);
    }
  } finally { await emu.stop(); }
}

/** Reads one file back from a Storage image (a binary Buffer), or undefined. */
export async function readStorage(flash, name, { flashSize = ESPRUINO_FLASH.flashSize, pageSize = ESPRUINO_FLASH.pageSize } = {}) {
  const emu = createEspruino({ flash: path.resolve(flash), flashSize, pageSize, log: () => {} });
  try {
    const s = emu.global.require("Storage").read(name);
    return s === undefined ? undefined : Buffer.from(s, "latin1");
  } finally { await emu.stop(); }
}

// The bundle as bytes: a path (bundle) or the code itself (code: string | Buffer).
function bundleBytes({ bundle, code }) {
  if (code !== undefined) return Buffer.isBuffer(code) ? code : Buffer.from(String(code), "latin1");
  if (!bundle) throw new Error("start: pass bundle (a path to app.min.js) or code");
  try { return fs.readFileSync(bundle); } catch (e) { throw new Error(`start: cannot read bundle ${bundle}: ${e.message}`); }
}

/** Runs a child and gives it the common handle; resolves once 127.0.0.1:port accepts. */
async function supervise(name, child, { port, cwd, flash, graceMs, timeout, cleanup, onOutput, extra = {} }) {
  live.add(child);
  const chunks = [];
  const waiters = new Set();
  let exitInfo = null, spawnError = null;
  const output = () => Buffer.concat(chunks).toString("utf8");
  const poke = () => { for (const w of waiters) w(); };
  const onData = (d) => { chunks.push(d); if (onOutput) onOutput(d); poke(); };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  if (child.stdin) child.stdin.on("error", () => {}); // EPIPE once it is gone
  const exited = new Promise((resolve) => {
    child.on("error", (e) => { spawnError = e; if (child.pid === undefined) { exitInfo = { code: null, signal: null, error: e }; live.delete(child); poke(); resolve(exitInfo); } });
    // "close", not "exit": by then all of its output has been read
    child.on("close", (code, signal) => { exitInfo = { code, signal }; live.delete(child); poke(); resolve(exitInfo); });
  });
  const describeExit = () => spawnError ? `could not start (${spawnError.message})` :
    `exited (${exitInfo.signal ? "signal " + exitInfo.signal : "code " + exitInfo.code})`;
  let cleaned = false;
  const tidy = () => { if (!cleaned) { cleaned = true; try { cleanup && cleanup(); } catch { /* best effort */ } } };
  exited.then(tidy);

  const waitFor = (pattern, ms = 5000) => new Promise((resolve, reject) => {
    const test = () => {
      const text = output();
      if (typeof pattern === "string") { if (text.includes(pattern)) return pattern; }
      else { const m = text.match(pattern); if (m) return m; }
      return null;
    };
    let timer;
    const check = () => {
      const m = test();
      if (m) { waiters.delete(check); clearTimeout(timer); resolve(m); }
      else if (exitInfo) { waiters.delete(check); clearTimeout(timer); reject(new Error(`${name} ${describeExit()} before printing ${pattern}\n--- output ---\n${output()}`)); }
    };
    timer = setTimeout(() => { waiters.delete(check); reject(new Error(`${name}: no ${pattern} within ${ms} ms\n--- output ---\n${output()}`)); }, ms);
    waiters.add(check);
    check();
  });

  const kill = async () => {
    if (!exitInfo) try { child.kill("SIGKILL"); } catch { /* gone */ }
    await exited;
    tidy();
    return exitInfo;
  };
  const stop = async () => {
    if (!exitInfo) {
      try { child.kill("SIGTERM"); } catch { /* gone */ }
      await Promise.race([exited, sleep(graceMs)]);
    }
    return kill();
  };

  const handle = { name, port, pid: child.pid, cwd, flash, output, waitFor, stop, kill, exited, stdin: child.stdin, child, ...extra };
  // ready: the port accepts connections
  const t0 = Date.now();
  for (;;) {
    if (exitInfo) { tidy(); throw new Error(`${name} ${describeExit()} before listening on 127.0.0.1:${port}\n--- output ---\n${output()}`); }
    if (await canConnect(port)) break;
    if (Date.now() - t0 > timeout) {
      await kill();
      throw new Error(`${name} did not accept connections on 127.0.0.1:${port} within ${timeout} ms\n--- output ---\n${output()}`);
    }
    await sleep(25);
  }
  handle.startMs = Date.now() - t0;
  return handle;
}

/**
 * Espruino for Linux running the bundle.
 * opts: bin (default $ESPRUINO_BIN), bundle (path) or code, port (0: a free one),
 *   storage ({ name: Buffer }: written into <cwd>/espruino.flash before the start),
 *   cwd (default: a fresh temporary directory, removed by stop()), telnet (REPL on 2323),
 *   keepFlash (reuse <cwd>/espruino.flash; else it starts empty), timeout (ms, 5000),
 *   onOutput(chunk).
 * The script run is `var SPRAT_PORT=<port>;\n` + the bundle (a temporary file).
 */
export async function startEspruino(opts = {}) {
  const { bin = process.env.ESPRUINO_BIN, port = 0, storage, telnet = false, keepFlash = false, timeout = 5000, onOutput } = opts;
  if (!bin) throw new Error(ESPRUINO_SKIP);
  if (!fs.existsSync(bin)) throw new Error(`ESPRUINO_BIN=${bin}: no such file`);
  const code = bundleBytes(opts);
  const shim = loopbackShim();
  const P = port || await freePort();
  await portIsFree(P);
  const ownCwd = !opts.cwd;
  const cwd = ownCwd ? fs.mkdtempSync(path.join(os.tmpdir(), "sprat-espruino-")) : path.resolve(opts.cwd);
  fs.mkdirSync(cwd, { recursive: true });
  const flash = path.join(cwd, ESPRUINO_FLASH.file);
  if (!keepFlash) fs.rmSync(flash, { force: true });
  if (storage && Object.keys(storage).length) await writeStorage(flash, storage, ESPRUINO_FLASH);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sprat-run-"));
  const script = path.join(tmp, "app.js");
  fs.writeFileSync(script, Buffer.concat([Buffer.from(`var SPRAT_PORT=${P};\n`), code]));
  const env = { ...process.env, LD_PRELOAD: process.env.LD_PRELOAD ? `${shim}:${process.env.LD_PRELOAD}` : shim };
  // stdin stays an open pipe: at EOF Espruino spins at 100% CPU, and with --telnet it
  // crashes (FIFO_FULL) if stdin is not open. detached: a terminal's Ctrl-C reaches only
  // us; we stop it.
  const child = spawn(bin, telnet ? ["--telnet", script] : [script], { cwd, env, stdio: ["pipe", "pipe", "pipe"], detached: true });
  const cleanup = () => {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (ownCwd) fs.rmSync(cwd, { recursive: true, force: true });
  };
  const h = await supervise("espruino", child, { port: P, cwd, flash, graceMs: 300, timeout, cleanup, onOutput, extra: telnet ? { telnetPort: TELNET_PORT } : {} });
  // the shim must have worked: nothing of ours on 0.0.0.0
  const wide = listeners(P).filter((a) => !a.startsWith("127.0.0.1:"));
  if (telnet) {
    const t0 = Date.now();
    while (!listeners(TELNET_PORT).length && Date.now() - t0 < timeout) await sleep(25);
    if (!listeners(TELNET_PORT).length) { await h.kill(); throw new Error(`espruino --telnet: nothing listens on port ${TELNET_PORT}\n--- output ---\n${h.output()}`); }
    wide.push(...listeners(TELNET_PORT).filter((a) => !a.startsWith("127.0.0.1:")));
  }
  if (wide.length) {
    await h.kill();
    throw new Error(`espruino listens on ${wide.join(", ")}: the LD_PRELOAD shim (${shim}) did not take effect (static binary?)`);
  }
  return h;
}

/**
 * The host emulator (node tools/emu/cli.mjs) running the bundle, as a child process.
 * opts: bundle (path) or code, port (0: a free one), flash (image path; default a fresh
 *   temporary image, removed by stop(); a given image keeps its files unless
 *   keepFlash === false), flashSize (262144), pageSize (1024), storage ({ name: Buffer },
 *   written into the image first), chunkSize, jsvars, timeout (ms, 5000), onOutput(chunk).
 */
export async function startEmulator(opts = {}) {
  const { port = 0, flashSize = ESPRUINO_FLASH.flashSize, pageSize = ESPRUINO_FLASH.pageSize, storage, timeout = 5000, onOutput } = opts;
  const code = bundleBytes(opts);
  const P = port || await freePort();
  await portIsFree(P);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sprat-emu-run-"));
  const flash = opts.flash ? path.resolve(opts.flash) : path.join(tmp, "emulator.flash");
  if (opts.flash && opts.keepFlash === false) fs.rmSync(flash, { force: true });
  if (storage && Object.keys(storage).length) await writeStorage(flash, storage, { flashSize, pageSize });
  let script = opts.bundle && opts.code === undefined ? path.resolve(opts.bundle) : null;
  if (!script) { script = path.join(tmp, "app.js"); fs.writeFileSync(script, code); }
  const args = [EMU_CLI, script, "--flash", flash, "--flash-size", String(flashSize), "--page-size", String(pageSize), "--port", String(P)];
  if (opts.chunkSize) args.push("--chunk-size", String(opts.chunkSize));
  if (opts.jsvars) args.push("--jsvars", String(opts.jsvars));
  const cwd = path.dirname(flash);
  fs.mkdirSync(cwd, { recursive: true });
  const child = spawn(process.execPath, args, { cwd, stdio: ["pipe", "pipe", "pipe"], detached: true });
  const cleanup = () => fs.rmSync(tmp, { recursive: true, force: true });
  // SIGTERM: the CLI runs E 'kill' and closes everything; SIGKILL if that takes over 2 s
  return supervise("emulator", child, { port: P, cwd, flash, graceMs: 2000, timeout, cleanup, onOutput });
}

/**
 * Writes files into a Kaluma emulator's LittleFS directory (one host file per file; other
 * files stay). files: { name: Buffer | Uint8Array | string (UTF-8) }.
 */
export function writeKalumaFiles(dir, files) {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, data] of Object.entries(files || {})) {
    fs.writeFileSync(path.join(dir, name), typeof data === "string" ? Buffer.from(data, "utf8") : data);
  }
}

/**
 * The Kaluma emulator (node tools/kaluma-emu/cli.mjs) running the bundle, as a child process.
 * opts: bundle (path) or code, port (0: a free one), storage ({ name: Buffer }: written into
 *   the LittleFS directory first), cwd (default: a fresh temporary directory, removed by
 *   stop()); the LittleFS directory is <cwd>/kaluma-lfs (the handle's `flash`), emptied first
 *   unless keepFlash; wifi ({ ssid: password } the board can join), kv ({ key: value } in
 *   Kaluma's storage), routing ("socket" | "shipped", tools/kaluma-emu/cyw43.mjs),
 *   timeout (ms, 5000), onOutput(chunk).
 */
export async function startKalumaEmulator(opts = {}) {
  const { port = 0, storage, keepFlash = false, timeout = 5000, onOutput, wifi = {}, kv = {}, routing } = opts;
  const code = bundleBytes(opts);
  const P = port || await freePort();
  await portIsFree(P);
  const ownCwd = !opts.cwd;
  const cwd = ownCwd ? fs.mkdtempSync(path.join(os.tmpdir(), "sprat-kaluma-")) : path.resolve(opts.cwd);
  const flash = path.join(cwd, "kaluma-lfs");
  if (!keepFlash) fs.rmSync(flash, { recursive: true, force: true });
  writeKalumaFiles(flash, storage);
  let script = opts.bundle && opts.code === undefined ? path.resolve(opts.bundle) : null;
  if (!script) { script = path.join(cwd, "kaluma-app.js"); fs.writeFileSync(script, code); }
  const args = [KALUMA_CLI, script, "--flash", flash, "--port", String(P)];
  for (const [k, v] of Object.entries(wifi)) args.push("--wifi", `${k}:${v}`);
  for (const [k, v] of Object.entries(kv)) args.push("--kv", `${k}=${v}`);
  if (routing) args.push("--routing", routing);
  const child = spawn(process.execPath, args, { cwd, stdio: ["pipe", "pipe", "pipe"], detached: true });
  const cleanup = () => { if (ownCwd) fs.rmSync(cwd, { recursive: true, force: true }); };
  return supervise("kaluma-emu", child, { port: P, cwd, flash, graceMs: 2000, timeout, cleanup, onOutput });
}

const ALL = [
  { name: "emulator", profile: "host", start: startEmulator },
  { name: "espruino", profile: "linux", start: startEspruino, needs: "ESPRUINO_BIN", skipReason: ESPRUINO_SKIP },
  { name: "kaluma-emu", profile: "kaluma-picow", start: startKalumaEmulator },
];

/**
 * The runtimes to run integration tests on: [{ name, profile, start }] (profile: which
 * board profile's bundle fits it). `.missing` lists the unavailable ones as
 * [{ name, profile, skipReason }] so a test can report ONE skip line each.
 * SPRAT_RUNTIMES=name,name picks runtimes by name.
 */
export function runtimes() {
  const only = (process.env.SPRAT_RUNTIMES || "").split(",").map((s) => s.trim()).filter(Boolean);
  const list = [], missing = [];
  for (const r of ALL) {
    if (only.length && !only.includes(r.name)) continue;
    const entry = { name: r.name, profile: r.profile, start: r.start };
    if (r.needs && !process.env[r.needs]) missing.push({ name: r.name, profile: r.profile, skipReason: r.skipReason });
    else list.push(entry);
  }
  Object.defineProperty(list, "missing", { value: missing, enumerable: false });
  return list;
}
