#!/usr/bin/env node
// npm run bench: sprat's size, memory (JsVars) and speed, on the emulator and (when
// ESPRUINO_BIN is set) on Espruino for Linux. Prints ONE table plus budget lines, and writes
// build/bench.json and docs/benchmarks.md.
//
//   node tools/bench.mjs [--no-build] [--runtime=emulator|espruino]
//   --no-build: measure the bundles already in build/ (and reuse build/bench/'s); --runtime:
//   only that runtime (for working on the bench; a full run measures every available one).
//
// Timings are ratios against baselines measured in the same run, on the same runtime, in
// alternating rounds (the idle side SIGSTOPped): a bare `net` echo server and the built-in
// `http` module + E.pipe serving the same Storage bytes (tools/bench/*.js). Absolute numbers
// are reported, never asserted; budgets are pass/fail lines, not tests (exit status 0).
// Everything listens on 127.0.0.1 and everything started is stopped. See docs/benchmarks.md.
import fs from "node:fs";
import os from "node:os";
import net from "node:net";
import path from "node:path";
import stream from "node:stream";
import zlib from "node:zlib";
import crypto from "node:crypto";
import { spawn, spawnSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { rollup } from "rollup";
import { loadProfiles, loadProfile } from "./profiles.mjs";
import { bundleConfig } from "./build-lib.mjs";
import { buildWeb } from "./build-web.mjs";
import { packDir } from "./pack-web.mjs";
import { ROOT, startEmulator, startEspruino, ESPRUINO_SKIP } from "./runtimes.mjs";
import { sleep, connect, wsOpen, pingPong, pipelined, bigEcho, httpLoop, getOnce, handshakeLoop, pct, frame } from "./bench/clients.mjs";
import { emulatorInstance, espruinoInstance } from "./bench/probes.mjs";
import { browserSuite } from "./bench/browser.mjs";

const OUT = path.join(ROOT, "build/bench");
const ROUNDS = 5;          // alternating rounds per timed comparison
const ROUND_MS = 250;      // time bound of one round (each also has a count bound)
const WINDOW = 16;         // messages in flight in the pipelined echo
const WS_CLIENTS = [1, 5, 10];
const SOAK = { cycles: 1000, maxMs: 25000 };
const SOAK_TOLERANCE = 4;  // JsVars: the app's log ring keeps timestamps, a float is 0 or 1 block
const INFLIGHT = { clients: 8, size: 200 * 1024, sndbuf: 4096, readings: 5 };
const PUSH = { telemetryMs: 0.1, windowMs: 1200 }; // 0.1 ms: Espruino's minimum interval
const BIG_MESSAGE = 64 * 1024;
const PROFILE_OF = { emulator: "host", espruino: "linux" };

const t0 = Date.now();
const progress = (msg) => process.stderr.write(`bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(3)}s  ${msg}\n`);
const gz = (b) => zlib.gzipSync(b, { level: 9 }).length;
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN; };
const num = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }) : "n/a");
const kb = (n) => `${num(n)} B`;

// ------------------------------------------------------------------------------ build

function npmBuild() {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "build"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`npm run build failed (exit ${code}):\n${out}`))));
  });
}

// Estimated minified bytes per source module of the last build: each module's share of the
// rendered (pre-terser) code applied to the minified size.
const moduleShares = {};

async function rollupBuild(profile, opts) {
  const out = path.join(ROOT, opts.outDir, "app.min.js");
  if (opts.reuse && fs.existsSync(out)) return out;
  const cfg = bundleConfig(profile, { ...opts, quiet: true });
  const b = await rollup(cfg);
  try {
    const { output } = await b.write(cfg.output);
    const mods = Object.entries(output[0].modules).filter(([, m]) => m.renderedLength > 0);
    const total = mods.reduce((n, [, m]) => n + m.renderedLength, 0);
    moduleShares[out] = mods.map(([id, m]) => ({ module: id.startsWith("\0") ? id.slice(1) : path.relative(ROOT, id), bytes: Math.round(m.renderedLength / total * Buffer.byteLength(output[0].code, "latin1")) }))
      .sort((a, b2) => b2.bytes - a.bytes);
  } finally { await b.close(); }
  return out;
}

/** The dashboard, library-only bundles per profile, the telemetry-push variants and hot-path timers. */
async function benchBuilds(profiles, runtimeNames, reuse) {
  const web = await buildWeb({ out: path.join(OUT, "web.zip"), stage: path.join(OUT, "web"), quiet: true });
  const lib = {};
  // the budget's library (HTTP, WS, ZIP, messaging) is the build without the optional features
  // ota and auth; the full library has them, as the profiles ship
  const libFull = {};
  for (const p of profiles) {
    lib[p.name] = await rollupBuild({ ...p, values: { ...p.values, ota: false, auth: false } }, { input: "test/fixtures/bench/lib-only.ts", outDir: `build/bench/lib-${p.name}`, reuse });
    libFull[p.name] = await rollupBuild(p, { input: "test/fixtures/bench/lib-only.ts", outDir: `build/bench/libfull-${p.name}`, reuse });
  }
  const push = {}, hot = {};
  for (const r of runtimeNames) {
    const p = loadProfile(path.join(ROOT, `board-profiles/${PROFILE_OF[r]}.json`));
    push[r] = await rollupBuild({ ...p, values: { ...p.values, telemetryMs: PUSH.telemetryMs } }, { outDir: `build/bench/push-${p.name}`, reuse });
    hot[r] = await rollupBuild(p, { input: "test/fixtures/bench/hot.ts", outDir: `build/bench/hot-${p.name}`, reuse });
  }
  return { web, lib, libFull, push, hot };
}

// ------------------------------------------------------------------------------ ZIPs

/** Entries of a ZIP with the offset of their data: [{ name, method, csize, usize, data }]. */
function zipEntries(zip) {
  const e = zip.lastIndexOf(Buffer.from("PK\x05\x06", "latin1")), out = [];
  for (let p = zip.readUInt32LE(e + 16), n = zip.readUInt16LE(e + 10); n--;) {
    const nl = zip.readUInt16LE(p + 28), lh = zip.readUInt32LE(p + 42);
    out.push({
      name: zip.toString("utf8", p + 46, p + 46 + nl), method: zip.readUInt16LE(p + 10),
      csize: zip.readUInt32LE(p + 20), usize: zip.readUInt32LE(p + 24),
      data: lh + 30 + zip.readUInt16LE(lh + 26) + zip.readUInt16LE(lh + 28),
    });
    p += 46 + nl + zip.readUInt16LE(p + 30) + zip.readUInt16LE(p + 32);
  }
  return out;
}

async function packFiles(dir, files, opts = {}) {
  fs.rmSync(dir, { recursive: true, force: true });
  if (opts.from) fs.cpSync(opts.from, dir, { recursive: true });
  for (const [name, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), data);
  }
  return (await packDir(dir, null, { quiet: true, minify: opts.minify })).zip;
}

/** The bench's ZIPs: the dashboard + a small file; 10 and 40 tiny entries; one big stored entry. */
async function benchZips(web) {
  // the dashboard's files as buildWeb staged them, plus a small text file (stored: too short to deflate)
  const site = await packFiles(path.join(OUT, "site"), { "small.txt": "sprat bench: a small static file served from the ZIP in Storage.\n" }, { from: web.stage });
  const tiny = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`assets/icon-${String(i).padStart(2, "0")}.svg`, `<svg id="i${i}"/>\n`]));
  const z10 = await packFiles(path.join(OUT, "z10"), tiny(10), { minify: false });
  const z40 = await packFiles(path.join(OUT, "z40"), tiny(40), { minify: false });
  // pseudo-random bytes (SHA-256 in counter mode: the same every run) do not deflate: stored
  const rnd = Buffer.concat(Array.from({ length: INFLIGHT.size / 32 }, (_, i) => crypto.createHash("sha256").update(`sprat ${i}`).digest()));
  const big = await packFiles(path.join(OUT, "big"), { "big.bin": rnd }, { minify: false });
  return { site, z10, z40, big, siteEntries: zipEntries(site), dashboard: web.entries.map((e) => e.name) };
}

// ------------------------------------------------------------------------------ size

function sizes(profiles, built) {
  const rows = [];
  for (const p of profiles) {
    const full = fs.readFileSync(path.join(ROOT, "build", p.name, "app.min.js"));
    const lib = fs.readFileSync(built.lib[p.name]), all = fs.readFileSync(built.libFull[p.name]);
    rows.push({ profile: p.name, total: full.length, totalGz: gz(full), lib: lib.length, libGz: gz(lib), opt: all.length - lib.length, optGz: gz(all) - gz(lib), app: full.length - all.length, appGz: gz(full) - gz(all) });
  }
  const entries = built.web.entries.map((e) => ({ name: e.name, raw: e.raw, minified: e.size, packed: e.packed, method: e.method ? "deflate" : "stored" }));
  const largest = rows.reduce((a, b) => (b.lib > a.lib ? b : a));
  return { profiles: rows, web: { zip: built.web.zip.length, entries, packed: built.web.total }, libModules: { profile: largest.profile, modules: moduleShares[built.lib[largest.profile]] } };
}

// ------------------------------------------------------------------------------ memory

/** How the emulator's Storage strings are counted: as RAM, by length (a board maps them). */
async function zipStringBlocks(inst) {
  return Number(await inst.eval(`E.getSizeOf(require("Storage").read("web.zip"))`)) - 1;
}

/** Holds while fn runs: on the in-process emulator, server sockets of the given client ports can't send. */
async function emulatorStall(inst, ports, fn) {
  const proto = net.Socket.prototype;
  const d = Object.getOwnPropertyDescriptor(stream.Writable.prototype, "writableNeedDrain");
  Object.defineProperty(proto, "writableNeedDrain", { configurable: true, get() { return ports.has(this.remotePort) || d.get.call(this); } });
  try { return await fn(); } finally {
    delete proto.writableNeedDrain;
    await inst.eval("0"); // wakes the emulator's loop: no host socket event will
  }
}

/**
 * Static responses in flight: `clients` GETs of `path` (a 200 KB stored entry) from clients
 * that stop reading, so the server waits for 'drain' mid-response. Returns { per (JsVars per
 * response), completed (how many got the whole body once reading again), after (delta once
 * they finished) }.
 */
async function inflight(rt, inst, p) {
  // one whole response first: state made once for good (the ZIP index and entry cache, the
  // runtime's first use of a module) is not per response
  await getOnce(inst.port, p, { ms: 20000 });
  const base = await inst.mem();
  const ports = new Set(), socks = [];
  const measure = async () => {
    for (let i = 0; i < INFLIGHT.clients; i++) {
      const s = await connect(inst.port);
      ports.add(s.localPort);
      s.pause(); // stop reading: the kernel buffers fill, then the server waits for 'drain'
      s.write(`GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      socks.push(s);
    }
    await sleep(300);
    // a stalled response holds between one and two network chunks of its last write, by
    // moment: the most of a few readings (the worst case) counts
    let u = 0;
    for (let i = 0; i < INFLIGHT.readings; i++) {
      u = Math.max(u, await inst.mem());
      await sleep(100);
    }
    return u;
  };
  const u = rt === "emulator" ? await emulatorStall(inst, ports, measure) : await measure();
  // each must then get the whole body: it really was in flight
  const got = await Promise.all(socks.map((s) => new Promise((resolve) => {
    let n = 0;
    const t = setTimeout(() => resolve(n), 10000);
    s.on("data", (d) => { n += d.length; if (n >= INFLIGHT.size) { clearTimeout(t); resolve(n); } });
    s.resume();
  })));
  for (const s of socks) s.destroy();
  await sleep(200);
  return { per: (u - base) / INFLIGHT.clients, completed: got.filter((n) => n >= INFLIGHT.size).length, after: await inst.mem() - base };
}

async function memorySuite(rt, code, zips) {
  const m = {};
  const launch = (c, storage, env = {}) => rt === "emulator" ? emulatorInstance({ code: c.toString("latin1"), storage })
    : espruinoInstance({ code: c, storage, env });
  const start = (storage, env) => launch(code, storage, env);
  const shimEnv = () => rt === "espruino" ? { LD_PRELOAD: sndbufShim(), SPRAT_BENCH_SNDBUF: String(INFLIGHT.sndbuf) } : {};
  let inst = await start({ "web.zip": zips.site, "z10.zip": zips.z10, "z40.zip": zips.z40 });
  m.method = inst.method;
  try {
    m.blocksize = Number(await inst.eval("process.memory().blocksize"));
    m.total = Number(await inst.eval("process.memory().total"));
    m.idle = await inst.mem();
    progress(`${rt}: memory: idle ${m.idle} JsVars; warm-up`);
    await getOnce(inst.port, "/");
    // (and the file the keep-alive connections below get: its entry is cached once, not per connection)
    await getOnce(inst.port, "/small.txt");
    for (let i = 0; i < 25; i++) await (await wsOpen(inst.port, "/ws", { proto: "sprat.v1" })).close();
    const base = await inst.mem();
    m.warm = base;

    // idle WebSocket clients on /ws
    const open = [];
    m.wsClient = {};
    for (const n of WS_CLIENTS) {
      while (open.length < n) open.push(await wsOpen(inst.port, "/ws", { proto: "sprat.v1" }));
      m.wsClient[n] = (await inst.mem() - base) / n;
    }
    for (const w of open) await w.close();

    // idle keep-alive HTTP connections (one small GET answered each)
    const socks = [];
    for (let i = 0; i < 4; i++) {
      const s = await connect(inst.port);
      await new Promise((resolve) => { s.once("data", resolve); s.write(`GET /small.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`); });
      socks.push(s);
    }
    m.keepAlive = (await inst.mem() - base) / socks.length;
    for (const s of socks) s.destroy();
    await sleep(100);

    // per ZIP index entry: the active ZIP switched through the pointer file (written by
    // hand, it is read once a sweep: 250 ms)
    await inst.eval(`require("Storage").write("web.ptr","z10.zip")`);
    await sleep(600);
    await getOnce(inst.port, "/assets/icon-00.svg");
    const u10 = await inst.mem();
    await inst.eval(`require("Storage").write("web.ptr","z40.zip")`);
    await sleep(600);
    await getOnce(inst.port, "/assets/icon-00.svg");
    const u40 = await inst.mem();
    m.zipEntry = (u40 - u10) / 30;
    m.zipIndex10 = u10 - base;
    await inst.eval(`require("Storage").erase("web.ptr")`);
    await sleep(600);
    await getOnce(inst.port, "/small.txt");

    // peak while a 64 KB text message streams through /echo
    {
      const ws = await wsOpen(inst.port, "/echo");
      const b = await inst.mem();
      let peak = b;
      await bigEcho(ws, BIG_MESSAGE, { pieces: 16, onPiece: async () => { await sleep(15); peak = Math.max(peak, Number(await inst.eval("process.memory().usage"))); } });
      m.echoPeak = peak - b;
      await ws.close();
    }

    // soak: connect/disconnect cycles, HTTP and WebSocket alternately, 4 clients at a time;
    // the baseline is taken after a few of each (first uses allocate lasting runtime state)
    const cycle = async (c) => {
      if (c % 2) {
        const ws = await wsOpen(inst.port, "/ws", { proto: "sprat.v1" });
        const reply = ws.next();
        ws.send(Buffer.from(`{"id":${c},"method":"control.get"}`));
        await reply;
        await ws.close();
      } else await getOnce(inst.port, "/small.txt");
    };
    // the module-level "current socket" variables keep the last socket alive until the next
    // event: the same two cycles (WS, then HTTP) before each reading leave the same one
    const tail = async () => { await cycle(1); await cycle(0); await sleep(700); };
    for (let c = 0; c < 20; c++) await cycle(c);
    await tail();
    const s0 = await inst.mem();
    const ts = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < SOAK.cycles && performance.now() - ts < SOAK.maxMs) await cycle(next++);
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    m.soakSecs = (performance.now() - ts) / 1000;
    m.soakCycles = next;
    await tail(); // also past the 500 ms sweep
    m.soakDelta = await inst.mem() - s0;
  } finally { await inst.stop(); }

  // in-flight static responses: a 200 KB stored entry, clients that stop reading
  progress(`${rt}: memory: static responses in flight`);
  inst = await start({ "web.zip": zips.big }, shimEnv());
  try {
    const f = await inflight(rt, inst, "/big.bin");
    const zipBlocks = await zipStringBlocks(inst);
    Object.assign(m, { inflightRaw: f.per, inflight: f.per - zipBlocks, inflightZipBlocks: zipBlocks, inflightCompleted: f.completed, inflightAfter: f.after });
  } finally { await inst.stop(); }

  // the runtime's own share, for reference: a bare net server's idle connections, and the
  // http module + E.pipe with the same responses in flight
  progress(`${rt}: memory: baselines`);
  const script = (f) => fs.readFileSync(path.join(ROOT, "tools/bench", f));
  inst = await launch(script("net-echo.js"), {});
  try {
    const base = await inst.mem(), socks = [];
    for (let i = 0; i < 5; i++) {
      const s = await connect(inst.port);
      await new Promise((resolve) => { s.once("data", resolve); s.write("x"); });
      socks.push(s);
    }
    m.netConn = (await inst.mem() - base) / socks.length;
    for (const s of socks) s.destroy();
  } finally { await inst.stop(); }
  const big = zipEntries(zips.big)[0];
  const chunk = loadProfile(path.join(ROOT, `board-profiles/${PROFILE_OF[rt]}.json`)).values.chunk;
  const pre = Buffer.from(`var BENCH=${JSON.stringify({ chunk, files: { "/big.bin": ["web.zip", big.data, big.csize, "application/octet-stream", ""] } })};\n`);
  inst = await launch(Buffer.concat([pre, script("http-pipe.js")]), { "web.zip": zips.big }, shimEnv());
  try {
    const f = await inflight(rt, inst, "/big.bin");
    Object.assign(m, { pipeInflight: f.per, pipeCompleted: f.completed });
  } finally { await inst.stop(); }
  return m;
}

function sndbufShim() {
  const src = path.join(ROOT, "tools/bench/sndbuf.c"), so = path.join(OUT, "sndbuf.so");
  let fresh = false;
  try { fresh = fs.statSync(so).mtimeMs >= fs.statSync(src).mtimeMs; } catch { /* not built */ }
  if (!fresh) {
    fs.mkdirSync(OUT, { recursive: true });
    const r = spawnSync(process.env.CC || "cc", ["-shared", "-fPIC", "-O2", "-o", so, src, "-ldl"], { encoding: "utf8" });
    if (r.error || r.status !== 0) throw new Error(`building tools/bench/sndbuf.c failed: ${r.stderr || r.error}`);
  }
  return so;
}

// ------------------------------------------------------------------------------ speed

/** Runs fn once per round for each side, alternating, with only that side's process running. */
function rig(handles) {
  const pids = handles.filter(Boolean).map((h) => h.pid);
  const focus = (h) => {
    for (const pid of pids) try { process.kill(pid, pid === h.pid ? "SIGCONT" : "SIGSTOP"); } catch { /* gone */ }
  };
  const release = () => { for (const pid of pids) try { process.kill(pid, "SIGCONT"); } catch { /* gone */ } };
  return { focus, release };
}

async function alternate(r, sides) {
  const out = sides.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < sides.length; i++) {
      r.focus(sides[i].handle);
      await sleep(20);
      out[i].push(await sides[i].run());
      if (process.env.BENCH_VERBOSE) progress(`  round ${round} side ${i}: ${JSON.stringify(out[i][round], (k, v) => (k === "rtts" ? undefined : typeof v === "number" ? +v.toFixed(3) : v))}`);
    }
  }
  return out;
}

async function speedSuite(rt, bundle, pushBundle, zips) {
  const S = {};
  const start = rt === "emulator" ? startEmulator : startEspruino;
  const script = (f) => fs.readFileSync(path.join(ROOT, "tools/bench", f));
  const profile = loadProfile(path.join(ROOT, `board-profiles/${PROFILE_OF[rt]}.json`));
  const chunk = profile.values.chunk;
  const byName = Object.fromEntries(zips.siteEntries.map((e) => [e.name, e]));
  const largest = zips.siteEntries.filter((e) => zips.dashboard.includes(e.name)).sort((a, b) => b.csize - a.csize)[0];
  const TYPES = { js: "text/javascript", html: "text/html", css: "text/css", svg: "image/svg+xml", txt: "text/plain" };
  const file = (e) => ["web.zip", e.data, e.csize, TYPES[e.name.split(".").pop()] || "application/octet-stream", e.method ? "deflate" : ""];
  const files = { [`/${largest.name}`]: file(largest), "/small.txt": file(byName["small.txt"]) };
  const pre = Buffer.from(`var BENCH=${JSON.stringify({ chunk, files })};\n`);
  const handles = [];
  try {
    const sprat = await start({ bundle, storage: { "web.zip": zips.site }, timeout: 10000 });
    handles.push(sprat);
    const echo = await start({ code: script("net-echo.js"), timeout: 10000 });
    handles.push(echo);
    const pipe = await start({ code: Buffer.concat([pre, script("http-pipe.js")]), storage: { "web.zip": zips.site }, timeout: 10000 });
    handles.push(pipe);
    const ceiling = await start({ code: Buffer.concat([pre, script("net-http.js")]), storage: { "web.zip": zips.site }, timeout: 10000 });
    handles.push(ceiling);
    let wsmod = null;
    if (process.env.ESPRUINO_WS_MODULE) {
      const src = fs.readFileSync(process.env.ESPRUINO_WS_MODULE);
      // the module text wrapped like a module: it may assign exports or module.exports
      const wrap = ["var WS = (function () { var exports = {}, module = { exports: exports }, first = exports;\n", "\n;return module.exports !== first ? module.exports : exports; })();\n"];
      wsmod = await start({ code: Buffer.concat([Buffer.from(wrap[0]), src, Buffer.from(wrap[1]), script("ws-module-echo.js")]), timeout: 10000 });
      handles.push(wsmod);
    }
    if (rt === "espruino") S.version = (/(\d+v\d+(?:\.\d+)?)/.exec(sprat.output()) || [])[1] || "?";
    const r = rig(handles);
    try {
      // WebSocket echo vs bare net echo, equal payloads: ping-pong (latency), then pipelined
      // (WINDOW messages in flight: the server never waits for the client)
      for (const [mode, fn] of [["pp", pingPong], ["pipe", pipelined]]) {
        for (const size of [32, 1024]) {
          progress(`${rt}: echo ${size} B ${mode === "pp" ? "ping-pong" : "pipelined"}`);
          const opts = { maxMs: ROUND_MS, maxMsgs: 20000, window: WINDOW };
          const ws = await wsOpen(sprat.port, "/echo");
          const raw = await connect(echo.port);
          const sides = [{ handle: sprat, run: () => fn(ws, size, opts) }, { handle: echo, run: () => fn(raw, size, opts) }];
          let wm = null;
          if (wsmod) { wm = await wsOpen(wsmod.port, "/"); sides.push({ handle: wsmod, run: () => fn(wm, size, opts) }); }
          const [a, b, c] = await alternate(r, sides);
          r.release();
          const e = S[`${mode}${size}`] = { rate: median(a.map((x) => x.rate)), net: median(b.map((x) => x.rate)), wsModule: c ? median(c.map((x) => x.rate)) : undefined };
          if (mode === "pp") {
            const rtts = a.flatMap((x) => x.rtts).sort((x, y) => x - y);
            Object.assign(e, { p50: pct(rtts, 0.5), p99: pct(rtts, 0.99), samples: rtts.length });
          }
          await ws.close(); raw.destroy(); if (wm) wm.destroy();
        }
      }

      // streaming: one 64 KB text message through /echo
      progress(`${rt}: echo 64 KB`);
      r.focus(sprat);
      {
        const ws = await wsOpen(sprat.port, "/echo");
        const secs = [];
        for (let i = 0; i < 3; i++) secs.push((await bigEcho(ws, BIG_MESSAGE)).secs);
        S.echo64k = { secs: median(secs), mbps: BIG_MESSAGE / median(secs) / 1e6 };
        await ws.close();
      }

      // handshakes
      progress(`${rt}: handshakes`);
      S.handshake = median((await alternate(r, [{ handle: sprat, run: () => handshakeLoop(sprat.port, "/echo", { maxMs: ROUND_MS }) }]))[0].map((x) => x.rate));

      // static: the largest dashboard asset, and a small file
      for (const [key, p] of [["static", `/${largest.name}`], ["small", "/small.txt"]]) {
        progress(`${rt}: GET ${p}`);
        const [ka, nc, base, ceil] = await alternate(r, [
          { handle: sprat, run: () => httpLoop(sprat.port, p, { keepAlive: true, maxMs: ROUND_MS, maxReq: 3000 }) },
          { handle: sprat, run: () => httpLoop(sprat.port, p, { keepAlive: false, maxMs: ROUND_MS, maxReq: 3000 }) },
          { handle: pipe, run: () => httpLoop(pipe.port, p, { keepAlive: false, maxMs: ROUND_MS, maxReq: 3000 }) },
          { handle: ceiling, run: () => httpLoop(ceiling.port, p, { keepAlive: false, maxMs: ROUND_MS, maxReq: 3000 }) },
        ]);
        const agg = (a) => ({ req: median(a.map((x) => x.reqRate)), mbps: median(a.map((x) => x.mbps)), body: a[0].body / a[0].n });
        S[key] = { path: p, keepAlive: agg(ka), newConn: agg(nc), baseline: agg(base), ceiling: agg(ceil) };
      }

      // the dashboard's bytes on the wire (headers included) vs raw
      r.release();
      S.wire = 0;
      for (const n of zips.dashboard) S.wire += (await getOnce(sprat.port, n === "index.html" ? "/" : `/${n}`)).wire;
    } finally { r.release(); }
  } finally {
    for (const h of handles) await h.stop();
  }

  // server push: the app's telemetry at the runtime's minimum interval, to 1 and 5 clients
  progress(`${rt}: telemetry push`);
  const push = await start({ bundle: pushBundle, storage: { "web.zip": zips.site }, timeout: 10000 });
  try {
    S.push = {};
    for (const k of [1, 5]) {
      const clients = [];
      for (let i = 0; i < k; i++) {
        const ws = await wsOpen(push.port, "/ws", { proto: "sprat.v1" });
        const reply = ws.next();
        ws.send(Buffer.from(`{"id":1,"method":"subscribe","params":{"topics":["telemetry"]}}`));
        await reply;
        clients.push(ws);
      }
      await sleep(200);
      const before = clients.map((w) => [w.messages, w.rx]), ts = performance.now();
      await sleep(PUSH.windowMs);
      const secs = (performance.now() - ts) / 1000;
      const msgs = clients.map((w, i) => (w.messages - before[i][0]) / secs);
      const bytes = clients.reduce((n, w, i) => n + w.rx - before[i][1], 0) / secs;
      S.push[k] = { perClient: median(msgs), total: msgs.reduce((a, b) => a + b, 0), kbps: bytes / 1000 };
      for (const w of clients) await w.close();
    }
  } finally { await push.stop(); }
  return S;
}

// ------------------------------------------------------------------------------ hot paths

/** test/fixtures/bench/hot.ts on the runtime: [{ name, us, n }]. */
async function hotSuite(rt, bundle, zips) {
  const start = rt === "emulator" ? startEmulator : startEspruino;
  const browser = [
    "GET /app.js HTTP/1.1", "Host: 192.168.4.1", "Connection: keep-alive",
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Accept: */*", "Sec-Fetch-Site: same-origin", "Sec-Fetch-Mode: no-cors", "Sec-Fetch-Dest: script", "Referer: http://192.168.4.1/",
    "Accept-Encoding: gzip, deflate", "Accept-Language: en-GB,en;q=0.9", "If-None-Match: \"f60a5b3000004ddeD\"",
  ];
  const HOT = {
    reqSmall: "GET /small.txt HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
    reqBrowser: browser.join("\r\n") + "\r\n\r\n", browserFields: browser.length - 1,
    f32: frame(Buffer.alloc(32, "x")).toString("latin1"), f1k: frame(Buffer.alloc(1024, "x")).toString("latin1"),
    key: "dGhlIHNhbXBsZSBub25jZQ==",
  };
  const code = Buffer.concat([Buffer.from(`var HOT=${JSON.stringify(HOT)};\n`, "latin1"), fs.readFileSync(bundle)]);
  const h = await start({ code, storage: { "web.zip": zips.site }, timeout: 30000 });
  try {
    const out = h.output(), list = [];
    for (const m of out.matchAll(/^HOT (.+)\|([\d.]+)\|(\d+)\|(\d+)\r?$/gm)) {
      // a parsing step must deliver what it parses (a reader stuck in an error state is fast)
      const parses = /^(HTTP request head|WS frame in|server: whole request)/.test(m[1]);
      list.push({ name: m[1], us: Number(m[2]), n: Number(m[3]), ok: !parses || Number(m[4]) === Number(m[3]) });
    }
    if (!out.includes("HOT done")) throw new Error(`hot-path timings did not finish on ${rt}:\n${out}`);
    return list;
  } finally { await h.stop(); }
}

// ------------------------------------------------------------------------------ report

function table(size, results, runtimeNames) {
  const rows = [];
  const row = (metric, runtime, sprat, baseline = "", ratio = "") => rows.push({ metric, runtime, sprat, baseline, ratio });
  const x = (a, b) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : "");
  const sign = (n) => `${n >= 0 ? "+" : ""}${n}`;
  for (const p of size.profiles) {
    row(`size ${p.profile}: app.min.js = library + OTA & auth + app (gzip)`, "build",
      `${kb(p.total)} (${num(p.totalGz)}) = ${num(p.lib)} (${num(p.libGz)}) + ${num(p.opt)} (${num(p.optGz)}) + ${num(p.app)} (${num(p.appGz)})`);
  }
  if (size.libModules.modules) {
    const group = (test) => size.libModules.modules.filter((m) => test(m.module) && m.bytes >= 20).map((m) => `${m.module.replace(/^src\/\w+\//, "").replace(/\.ts$/, "")} ${num(m.bytes)}`).join(", ");
    row(`size: library's src/server by module (${size.libModules.profile}, est. minified B)`, "build", group((m) => m.startsWith("src/server/")));
    row(`size: library's src/core and the rest by module (est. minified B)`, "build", group((m) => !m.startsWith("src/server/")));
  }
  for (const e of size.web.entries) row(`dashboard ${e.name}: packed (minified, raw)`, "build", `${kb(e.packed)} (${num(e.minified)}, ${num(e.raw)}) ${e.method}`);
  row("dashboard web.zip: file (entries packed)", "build", `${kb(size.web.zip)} (${num(size.web.packed)})`);
  const raw = size.web.entries.reduce((n, e) => n + e.raw, 0);
  // [label, (memory, speed, hot) => [sprat, baseline?, ratio?]], one row per runtime each
  const metrics = [
    ["dashboard load on the wire (GET / and each asset, headers included) vs raw files", (m, s) => [kb(s.wire), kb(raw), x(s.wire, raw)]],
    ["memory: JsVars in use, idle server after start", (m) => [num(m.idle), "", `${m.blocksize} B JsVars, ${num(m.total)} total`]],
    [`memory: per idle WebSocket client on /ws, N = ${WS_CLIENTS.join(", ")} (baseline: bare net connection)`, (m) => [WS_CLIENTS.map((n) => num(m.wsClient[n], 1)).join(", "), num(m.netConn, 1)]],
    ["memory: per idle keep-alive HTTP connection (baseline: bare net connection)", (m) => [num(m.keepAlive, 1), num(m.netConn, 1)]],
    [`memory: per in-flight static response, ${INFLIGHT.clients} stalled GETs of ${INFLIGHT.size / 1024} KB (baseline: http + E.pipe)`, (m) =>
      [`${num(m.inflight, 1)}${m.inflightZipBlocks ? ` (+${num(m.inflightZipBlocks)} ZIP string)` : ""}`, num(m.pipeInflight, 1),
        `${m.inflightCompleted}/${INFLIGHT.clients} and ${m.pipeCompleted}/${INFLIGHT.clients} completed after`]],
    ["memory: per ZIP index entry (40- vs 10-entry ZIP)", (m, s, h, rt) => [rt === "emulator" && !m.zipIndex10 ? "n/a (closure state)" : num(m.zipEntry, 1), "", rt === "emulator" && !m.zipIndex10 ? "" : `10-entry index: ${num(m.zipIndex10)}`]],
    ["memory: peak during a 64 KB message through /echo", (m) => [sign(m.echoPeak)]],
    [`memory: ${num(SOAK.cycles)} connect/disconnect cycles (HTTP + WS), delta`, (m) => [sign(m.soakDelta), "", `${num(m.soakCycles)} cycles, ${num(m.soakCycles / m.soakSecs)}/s`]],
    ...[32, 1024].map((size) => [`WS echo ${size} B ping-pong: msgs/s (RTT p50 / p99 ms) vs net echo`, (m, s) => {
      const e = s[`pp${size}`];
      return [`${num(e.rate)} (${e.p50.toFixed(2)} / ${e.p99.toFixed(2)})`, num(e.net), x(e.rate, e.net)];
    }]),
    ...[32, 1024].map((size) => [`WS echo ${size} B pipelined (${WINDOW} in flight): msgs/s vs net echo`, (m, s) => {
      const e = s[`pipe${size}`];
      return [num(e.rate), num(e.net), x(e.rate, e.net)];
    }]),
    ...[["pp", "ping-pong"], ["pipe", "pipelined"]].flatMap(([k, what]) => [32, 1024].map((size) => [`WS echo ${size} B ${what}: msgs/s vs Espruino ws module`, (m, s) => {
      const e = s[`${k}${size}`];
      return e.wsModule ? [num(e.rate), num(e.wsModule), x(e.rate, e.wsModule)] : null;
    }])),
    ["WS echo of one 64 KB message (streamed): MB/s", (m, s) => [num(s.echo64k.mbps, 2)]],
    ["WS handshakes/s (connect, upgrade, close handshake)", (m, s) => [num(s.handshake)]],
    ...[1, 5].map((k) => [`telemetry push to ${k} client${k > 1 ? "s" : ""}: msgs/s per client (all, KB/s)`, (m, s) => [`${num(s.push[k].perClient)} (${num(s.push[k].total)}, ${num(s.push[k].kbps)})`]]),
    ["static largest asset: MB/s, keep-alive vs http + E.pipe", (m, s) => [num(s.static.keepAlive.mbps, 2), num(s.static.baseline.mbps, 2), x(s.static.keepAlive.mbps, s.static.baseline.mbps)]],
    ["static largest asset: MB/s, new connection each vs http + E.pipe", (m, s) => [num(s.static.newConn.mbps, 2), num(s.static.baseline.mbps, 2), x(s.static.newConn.mbps, s.static.baseline.mbps)]],
    ["small file: requests/s, keep-alive vs http + E.pipe", (m, s) => [num(s.small.keepAlive.req), num(s.small.baseline.req), x(s.small.keepAlive.req, s.small.baseline.req)]],
    ["small file: requests/s, new connection each vs http + E.pipe", (m, s) => [num(s.small.newConn.req), num(s.small.baseline.req), x(s.small.newConn.req, s.small.baseline.req)]],
    // (in the sprat column: what the ceiling server did, for the rows above to be read against)
    ["ceiling: static largest asset, MB/s of a JS net server that parses nothing (new connection each) vs http + E.pipe", (m, s) => s.static.ceiling && [num(s.static.ceiling.mbps, 2), num(s.static.baseline.mbps, 2), x(s.static.ceiling.mbps, s.static.baseline.mbps)]],
    ["ceiling: small file, requests/s of a JS net server that parses nothing (new connection each) vs http + E.pipe", (m, s) => s.small.ceiling && [num(s.small.ceiling.req), num(s.small.baseline.req), x(s.small.ceiling.req, s.small.baseline.req)]],
  ];
  const st = results[runtimeNames[0]].speed;
  for (const [label, f] of metrics) {
    for (const rt of runtimeNames) {
      const { memory, speed, hot } = results[rt];
      const v = f(memory, speed, hot, rt);
      if (v) row(label.replace("largest asset", `${st.static.path} (${num(st.static.keepAlive.body)} B)`).replace("small file", `small file (${num(st.small.keepAlive.body)} B)`), rt, ...v);
    }
  }
  // hot paths: microseconds per call, timed inside the runtime
  const names = [...new Set(runtimeNames.flatMap((rt) => results[rt].hot.map((h) => h.name)))];
  for (const name of names) {
    for (const rt of runtimeNames) {
      const h = results[rt].hot.find((e) => e.name === name);
      if (h) row(`hot path µs/call: ${name}`, rt, h.ok ? num(h.us, h.us < 10 ? 2 : h.us < 100 ? 1 : 0) : "invalid (nothing parsed)", "", `${num(h.n)} calls`);
    }
  }
  return rows;
}

function budgets(size, results, rt) {
  const { memory: m, speed: s } = results[rt];
  const lib = Math.max(...size.profiles.map((p) => p.lib));
  const libP = size.profiles.find((p) => p.lib === lib).profile;
  const b = (name, ok, value) => ({ name, pass: !!ok, value });
  // an HTTP budget: new connection against the baseline, with keep-alive and the ceiling beside
  const http = (name, e, u) => {
    const r = (x) => (x[u] / e.baseline[u]).toFixed(2) + "×";
    return b(name, e.newConn[u] >= e.baseline[u], `${r(e.newConn)} (keep-alive ${r(e.keepAlive)}${e.ceiling ? `; a JS server that parses nothing: ${r(e.ceiling)}` : ""})`);
  };
  return [
    b("WS echo 32 B ≥ 0.6 × bare net echo (ping-pong msgs/s)", s.pp32.rate >= 0.6 * s.pp32.net, `${(s.pp32.rate / s.pp32.net).toFixed(2)}× (pipelined ${(s.pipe32.rate / s.pipe32.net).toFixed(2)}×)`),
    http("static throughput ≥ 1.0 × http + E.pipe (new connection each, like for like)", s.static, "mbps"),
    http("small-file requests/s ≥ 1.0 × http + E.pipe (new connection each, like for like)", s.small, "req"),
    b("≤ 40 JsVars per idle WS client (worst of N = 1, 5, 10)", Math.max(...WS_CLIENTS.map((n) => m.wsClient[n])) <= 40, `${num(Math.max(...WS_CLIENTS.map((n) => m.wsClient[n])), 1)} (a bare net connection: ${num(m.netConn, 1)})`),
    b("≤ 60 JsVars per in-flight static response", m.inflight <= 60 && m.inflightCompleted === INFLIGHT.clients, `${num(m.inflight, 1)} (http + E.pipe: ${num(m.pipeInflight, 1)})${m.inflightCompleted === INFLIGHT.clients ? "" : ` (only ${m.inflightCompleted}/${INFLIGHT.clients} responses completed)`}`),
    b(`soak returns to baseline (|delta| ≤ ${SOAK_TOLERANCE} JsVars after ${num(m.soakCycles)} cycles)`, Math.abs(m.soakDelta) <= SOAK_TOLERANCE && m.soakCycles >= SOAK.cycles, `${m.soakDelta >= 0 ? "+" : ""}${m.soakDelta}`),
    b("server library (HTTP + WS + ZIP FS + messaging) ≤ 8 KB minified (largest profile)", lib <= 8192, `${num(lib)} B (${libP})`),
  ];
}

function textTable(rows) {
  const cols = ["metric", "runtime", "sprat", "baseline", "ratio"];
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (r) => cols.map((c, i) => String(r[c]).padEnd(w[i])).join("  ").trimEnd();
  return [line(Object.fromEntries(cols.map((c) => [c, c]))), w.map((n) => "-".repeat(n)).join("  "), ...rows.map(line)].join("\n");
}

function mdTable(rows) {
  const esc = (s) => String(s).replace(/\|/g, "\\|");
  return ["| metric | runtime | sprat | baseline | ratio |", "|---|---|---|---|---|", ...rows.map((r) => `| ${esc(r.metric)} | ${r.runtime} | ${esc(r.sprat)} | ${esc(r.baseline)} | ${esc(r.ratio)} |`)].join("\n");
}

function markdown(meta, rows, budgetLines, notes, before) {
  return `# Benchmarks

Generated by \`npm run bench\` (tools/bench.mjs) on ${meta.date} at commit ${meta.commit}: ${meta.machine}, ${meta.cores} cores,
load average ${meta.load} at the start, Node ${meta.node}. Runtimes: ${meta.runtimes}. Took ${meta.secs} s.
${meta.skip ? `\n${meta.skip}\n` : ""}
Timings are medians of ${ROUNDS} alternating rounds (≤ ${ROUND_MS} ms each) against baselines run in
the same process tree on the same runtime, with only the measured server running (the others are
SIGSTOPped). Only ratios mean anything across machines; absolute numbers are what this machine did.
Memory is \`process.memory().usage\` (JsVars, after a GC) deltas: on Espruino for Linux read through its
REPL, on the emulator from its approximate model (tools/emu/README.md).
What the figures mean and the floors behind the budgets still missed: [performance.md](performance.md).

${mdTable(rows)}

## Budgets (${meta.counts})

${budgetLines.map((l) => `- ${l}`).join("\n")}
${before ? `\n${before}\n` : ""}
## How each figure is measured

${notes.map((n) => `- ${n}`).join("\n")}
`;
}

const NOTES = [
  "**size**: `build/<profile>/app.min.js` from `npm run build`; the library is `test/fixtures/bench/lib-only.ts` (the server library, `start()`, nothing registered) built per profile with tools/build-lib.mjs's `bundleConfig` and the profile features `ota` and `auth` off (the budget's HTTP + WS + ZIP FS + messaging); OTA & auth = the same built with the profile's features (as shipped) minus that; app = total − both (gzip -9 sizes likewise). Per-module figures share out the minified size by each module's rendered (pre-terser) length. The dashboard is built by tools/build-web.mjs `buildWeb` into build/bench/web.zip.",
  "**wire**: bytes received for `GET /` and a GET of every other file of the dashboard (Accept-Encoding: gzip, deflate; headers included) against the raw (unminified) size of the dashboard's files.",
  "**memory**: `process.memory().usage` after a GC, read until two readings 60 ms apart agree. Espruino for Linux has 27-byte JsVars (a string block holds ~20 chars, a board's ~10: string-heavy state costs about twice the JsVars on a board) and runs the bundle's code from RAM (a board runs it from flash), hence the idle figure. The emulator's model cannot see closures (sprat's module state: connection list, ZIP index, log ring), only what hangs off sockets, timers and globals.",
  "**per WS client / keep-alive connection**: after a warm-up (one GET, 25 /ws connects, which fills the app's 20-entry log ring), usage with N idle clients minus usage with none, over N. Baseline: the same for idle connections to the bare `net` echo server (the runtime's own cost of a socket). The emulator counts the shared socket handlers (functions) with the first client, so its N = 1 figure is high.",
  `**in flight**: ${INFLIGHT.clients} GETs of a ${INFLIGHT.size / 1024} KB stored entry from clients that stop reading. Loopback absorbs megabytes per socket, so Espruino runs with tools/bench/sndbuf.c (SO_SNDBUF ${INFLIGHT.sndbuf} on accepted sockets) and the in-process emulator's server sockets report writableNeedDrain. Afterwards every client must get the whole body. One whole GET of the file comes first, so that state made once (the ZIP index and entry cache; the http module's first use) is not counted per response. The figure includes the unsent rest of the last write (up to chunk/blocksize JsVars), which depends on the moment: the most of ${INFLIGHT.readings} readings counts (the worst case). The emulator counts a Storage string as RAM by its length (a board maps it: 1 JsVar); that share is shown separately and left out. Baseline: tools/bench/http-pipe.js with the same file, same stall.`,
  "**ZIP index entry**: the active ZIP switched with the pointer file `web.ptr` from a 10-entry to a 40-entry ZIP (names like `assets/icon-00.svg`), one GET each to build the index; (usage₄₀ − usage₁₀) / 30.",
  "**64 KB peak**: one 64 KB text message through /echo sent in 16 pieces 15 ms apart, usage sampled after each; highest minus usage before. A sample, not a true peak: transients inside one `'data'` callback are not seen.",
  `**soak**: up to ${SOAK.cycles} cycles (≤ ${SOAK.maxMs / 1000} s, 4 clients at a time), alternately a new-connection GET /small.txt and a /ws connect + control.get + close handshake; usage after minus usage before, both read after the same WS-then-HTTP pair of cycles (the server's "current socket" variables keep the last socket alive until the next event).`,
  `**echo**: one client. Ping-pong: the next message when the whole echo is back, after 20 warm-up messages (latency: per-message work). Pipelined: ${WINDOW} messages in flight (throughput); the bare \`net\` echo (tools/bench/net-echo.js) then gets many messages per \`'data'\` event, which a framing server cannot. 1 KB echoes are bound on both sides by Nagle's algorithm on the server (no TCP_NODELAY on Espruino for Linux) and the client's delayed ACK: the reply leaves in 536-byte pieces, the second waits ~40 ms.`,
  "**static / small file**: sequential GETs on one keep-alive connection, or a new connection per request; the baseline (tools/bench/http-pipe.js) is the built-in `http` module piping the same bytes of the same Storage file with `E.pipe(..., {chunkSize})` at the profile's chunk size; it always closes the connection, so the like-for-like comparison is new connection against new connection. The ceiling (tools/bench/net-http.js) is about the least an HTTP server in JavaScript over `net` can do: it reads nothing of the request but the path and streams the same bytes a chunk per 'drain', then closes; the gap between it and the baseline is the runtime's, the gap between it and sprat is sprat's own JavaScript (parsing, checks, routing). Keep-alive responses longer than one 536-byte piece wait ~40 ms each for the client's delayed ACK (Nagle again; new connections start in quick-ACK mode).",
  `**push**: the example app built with \`telemetryMs: ${PUSH.telemetryMs}\` (the runtime's minimum timer interval), clients subscribed to \`telemetry\`, messages received over ${PUSH.windowMs} ms. On the emulator each push also runs the emulator's memory model (the app reads \`process.memory()\`), so its figure says little.`,
  "**hot paths**: test/fixtures/bench/hot.ts run on the runtime: each step of a request or message timed in a loop with getTime() (≤ 2,000 calls or 150 ms). Absolute, single-run timings: use them to rank costs, not to compare machines. On Espruino for Linux, Storage is read through fopen/fread/fclose per access (flash strings), so anything reading ZIP bytes one by one is far slower than on a board, where Storage is memory-mapped.",
  "**optional**: with `ESPRUINO_WS_MODULE=/path/to/ws.js` (a copy of EspruinoDocs modules/ws.js, never committed) the WebSocket echoes are also compared with Espruino's `ws` module on the built-in `http` server (tools/bench/ws-module-echo.js).",
];

// ------------------------------------------------------------------------------ before/after

/** The commit measured: its short hash, "+ changes" if the work tree differs (docs/benchmarks.md aside). */
function commitOf() {
  const git = (...a) => spawnSync("git", a, { cwd: ROOT, encoding: "utf8" });
  const head = git("rev-parse", "--short", "HEAD");
  if (head.status !== 0) return "unknown (not a git checkout)";
  const dirty = git("status", "--porcelain", "--untracked-files=no").stdout.split("\n").filter((l) => l && !l.endsWith("docs/benchmarks.md")).length;
  return head.stdout.trim() + (dirty ? " + uncommitted changes" : "");
}

/**
 * The budgets of the run docs/benchmarks.md held before this one, next to this run's: the
 * before/after record issue #7 asks for, kept in the file itself. Only a run judged on the
 * same runtime compares; "" if there is none.
 */
function previousRun(old, meta, bud) {
  const when = old.match(/^Generated by .* on (\d{4}-\d\d-\d\dT[\d:]+Z)(?: at commit ([^:]+))?:/m);
  const judged = old.match(/^## Budgets \((.*)\)$/m);
  if (!when || !judged || judged[1] !== meta.counts) return "";
  const prev = new Map();
  for (const m of old.matchAll(/^- (?:PASS|FAIL) {2}(.+?): (.+)$/gm)) prev.set(m[1], m[2]);
  const rows = bud.filter((b) => prev.has(b.name)).map((b) => `| ${b.name.replace(/\|/g, "\\|")} | ${prev.get(b.name)} | ${b.value} |`);
  if (!rows.length) return "";
  return `### Against the previous run\n\nThe run this file held before: ${when[1]}${when[2] ? `, commit ${when[2]}` : ""}. ` +
    `Noise between runs is a few hundredths on the ratios; [performance.md](performance.md) has the history.\n\n` +
    `| budget | previous run | this run |\n|---|---|---|\n${rows.join("\n")}`;
}

// ------------------------------------------------------------------------------ main

async function main() {
  const noBuild = process.argv.includes("--no-build");
  const only = (process.argv.find((a) => a.startsWith("--runtime=")) || "").slice(10);
  const runtimeNames = ["emulator", ...(process.env.ESPRUINO_BIN ? ["espruino"] : [])].filter((r) => !only || r === only);
  if (!runtimeNames.length) throw new Error(`--runtime=${only}: not available (emulator, or espruino with ESPRUINO_BIN set)`);
  const skip = process.env.ESPRUINO_BIN ? "" : `${ESPRUINO_SKIP.replace("tests skipped", "benchmarks skipped")}: emulator only.`;
  process.chdir(ROOT); // bundleConfig's paths are relative to the repository
  fs.mkdirSync(OUT, { recursive: true });
  const profiles = loadProfiles(path.join(ROOT, "board-profiles"));
  const load = os.loadavg().map((l) => l.toFixed(2)).join(" ");

  progress(noBuild ? "building bench bundles (npm run build skipped: --no-build)" : "npm run build, and the bench bundles alongside");
  const [, built] = await Promise.all([noBuild ? null : npmBuild(), benchBuilds(profiles, runtimeNames, noBuild)]);
  const size = sizes(profiles, built);
  const zips = await benchZips(built.web);

  const results = {};
  for (const rt of runtimeNames) {
    const bundle = path.join(ROOT, "build", PROFILE_OF[rt], "app.min.js");
    progress(`${rt}: memory`);
    const memory = await memorySuite(rt, fs.readFileSync(bundle), zips);
    progress(`${rt}: speed`);
    const speed = await speedSuite(rt, bundle, built.push[rt], zips);
    progress(`${rt}: hot paths`);
    const hot = await hotSuite(rt, built.hot[rt], zips);
    progress(`${rt}: dashboard in Chromium`);
    const browser = await browserSuite(rt, path.join(ROOT, "build/web.zip"));
    results[rt] = { profile: PROFILE_OF[rt], memory, speed, hot, browser };
  }

  const counts = runtimeNames.includes("espruino") ? "espruino" : "emulator";
  const meta = {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"), machine: os.cpus()[0].model, cores: os.cpus().length, load, node: process.version,
    runtimes: runtimeNames.map((r) => (r === "espruino" ? `Espruino for Linux ${results.espruino.speed.version} (profile linux; memory via ${results.espruino.memory.method})` : "emulator (profile host)")).join(", "),
    secs: Math.round((Date.now() - t0) / 1000), skip, commit: commitOf(),
    counts: counts === "espruino" ? "judged on Espruino for Linux" : "judged on the emulator: approximate, set ESPRUINO_BIN for real numbers",
  };
  const rows = table(size, results, runtimeNames);
  for (const rt of runtimeNames) {
    const b = results[rt].browser;
    rows.push({ metric: "dashboard in Chromium: first contentful paint / first telemetry point, ms (median of fresh loads)", runtime: rt,
      sprat: b.skip ? b.skip : `${b.fcp} / ${b.telemetry}`, baseline: "", ratio: "" });
  }
  const bud = budgets(size, results, counts);
  const budgetLines = bud.map((b) => `${b.pass ? "PASS" : "FAIL"}  ${b.name}: ${b.value}`);

  console.log(`sprat bench ${meta.date}  ${meta.machine} (${meta.cores} cores, load ${load})  node ${meta.node}  ${meta.secs} s`);
  console.log(textTable(rows));
  console.log(`\nbudgets (${meta.counts}):`);
  for (const l of budgetLines) console.log(`  ${l}`);
  if (skip) console.log(skip);

  const json = { meta, size, results, budgets: bud, budgetsRuntime: counts, settings: { ROUNDS, ROUND_MS, SOAK, INFLIGHT, PUSH, WS_CLIENTS } };
  fs.writeFileSync(path.join(ROOT, "build/bench.json"), JSON.stringify(json, null, 2) + "\n");
  const md = path.join(ROOT, "docs/benchmarks.md");
  const before = previousRun(fs.existsSync(md) ? fs.readFileSync(md, "utf8") : "", meta, bud);
  fs.writeFileSync(md, markdown(meta, rows, budgetLines, NOTES, before));
  process.stderr.write(`wrote build/bench.json and docs/benchmarks.md\n`);
}

// Ctrl-C: exit through process.exit so tools/runtimes.mjs kills every child it started
// (SIGKILL also ends the ones SIGSTOPped for a round)
process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));

main().then(() => process.exit(0), (e) => {
  console.error(`bench: ${e && e.stack || e}`);
  process.exit(1);
});
