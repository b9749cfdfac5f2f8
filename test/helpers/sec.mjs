// Shared by test/auth.test.mjs and test/abuse.test.mjs: the device app built with test
// limits, started on a runtime, and small HTTP / WebSocket clients over 127.0.0.1.
//
//   build(rt, tag, overrides) → { bundle, values }: src/app/main.ts through the real pipeline
//     (rollup + gate + terser) for runtime rt's profile with `overrides` merged into its
//     values, into build/test-<tag>-<rt.name>/ (one directory per test file and variant:
//     test files run in parallel)
//   start(rt, built, { storage, flash, keep }) → the runtime handle (tools/runtimes.mjs) + .values
//   http(port, { method, path, headers, body, host }) → { status, reason, headers, body, text, json }
//     on its own connection (Connection: close); headers as an object, host default 127.0.0.1
//   api(port, method, params?, token?) → http() of POST /api/<method> (GET when params is undefined)
//   wsOpen(port, { origin, host }) → a WebSocket client { rpc(method, params), frames, closed, close() }
//   memUsed(port) → JsVars in use after a garbage collection (GET /api/mem)
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import crypto from "node:crypto";
import { rollup } from "rollup";
import { loadProfile } from "../../tools/profiles.mjs";
import { bundleConfig } from "../../tools/build-lib.mjs";
import { ROOT, ESPRUINO_FLASH, readStorage, writeStorage, writeKalumaFiles } from "../../tools/runtimes.mjs";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const built = new Map();
export function build(rt, tag, overrides = {}) {
  const key = `${tag}-${rt.name}`;
  if (!built.has(key)) {
    built.set(key, (async () => {
      const p = loadProfile(path.join(ROOT, "board-profiles", `${rt.profile}.json`));
      const profile = { ...p, values: { ...p.values, ...overrides } };
      const outDir = `build/test-${key}`;
      const cwd = process.cwd();
      process.chdir(ROOT); // bundleConfig's paths are relative to the repository root
      try {
        const cfg = bundleConfig(profile, { outDir, quiet: true });
        const b = await rollup(cfg);
        try { await b.write(cfg.output); } finally { await b.close(); }
      } finally { process.chdir(cwd); }
      return { bundle: path.join(ROOT, outDir, "app.min.js"), values: profile.values };
    })());
  }
  return built.get(key);
}

/**
 * Storage geometry: the profile's on the emulator (and the Kaluma emulator's LittleFS has it);
 * Espruino for Linux has its own image.
 */
export const geometry = (rt, values) => rt.name === "espruino"
  ? { flashSize: ESPRUINO_FLASH.flashSize, pageSize: ESPRUINO_FLASH.pageSize }
  : { flashSize: values.storageSize, pageSize: values.storagePage };

/**
 * Starts a built bundle. dir: keep Storage in this directory (a restart with keep: true
 * finds the same files again); storage: files written into it first.
 */
export async function start(rt, { bundle, values }, { storage, dir, keep = false, timeout = 8000 } = {}) {
  const opts = { bundle, storage, timeout };
  if (rt.name === "emulator") {
    Object.assign(opts, geometry(rt, values));
    if (dir) Object.assign(opts, { flash: path.join(dir, "emulator.flash"), keepFlash: keep ? undefined : false });
  } else if (dir) Object.assign(opts, { cwd: dir, keepFlash: keep });
  const h = await rt.start(opts);
  h.values = values;
  return h;
}

/** The Storage image file of a started runtime in dir (the Kaluma emulator: its LittleFS directory). */
export const flashFile = (rt, dir) => path.join(dir, rt.name === "emulator" ? "emulator.flash" : rt.name === "kaluma-emu" ? "kaluma-lfs" : ESPRUINO_FLASH.file);

/** A file from the flash of runtime rt in dir (a Buffer), or undefined. */
export async function readFlash(rt, dir, name, values) {
  if (rt.name !== "kaluma-emu") return readStorage(flashFile(rt, dir), name, geometry(rt, values));
  try { return fs.readFileSync(path.join(flashFile(rt, dir), name)); } catch { return undefined; }
}

/** Writes files ({ name: Buffer | binary string }) into the flash of runtime rt in dir. */
export async function writeFlash(rt, dir, files, values) {
  if (rt.name !== "kaluma-emu") return writeStorage(flashFile(rt, dir), files, geometry(rt, values));
  writeKalumaFiles(flashFile(rt, dir), Object.fromEntries(Object.entries(files).map(([n, v]) => [n, Buffer.isBuffer(v) ? v : Buffer.from(v, "latin1")])));
}

/** Parses one whole response at the start of buf, or null. */
export function parseResponse(buf, closed) {
  const e = buf.indexOf("\r\n\r\n");
  if (e < 0) return null;
  const lines = buf.subarray(0, e).toString("latin1").split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]);
  if (!m) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
  const headers = {};
  for (const l of lines.slice(1)) { const i = l.indexOf(":"); headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim(); }
  const status = Number(m[1]);
  const n = headers["content-length"] !== undefined ? Number(headers["content-length"]) : status === 101 || status === 204 || status === 304 ? 0 : closed ? buf.length - e - 4 : -1;
  if (n < 0 || buf.length < e + 4 + n) return null;
  const body = buf.subarray(e + 4, e + 4 + n);
  let json;
  try { json = JSON.parse(body.toString("utf8")); } catch { /* not JSON */ }
  return { status, reason: m[2], headers, body, text: body.toString("utf8"), json, rest: buf.subarray(e + 4 + n) };
}

/** One request on its own connection; resolves with the response (rejects after ms). */
export function http(port, { method = "GET", path: p = "/", headers = {}, body, host = "127.0.0.1", ms = 8000 } = {}) {
  return new Promise((resolve, reject) => {
    const b = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(body);
    const h = { Host: host, Connection: "close", ...headers };
    if (b) h["Content-Length"] = b.length;
    let buf = Buffer.alloc(0), done = false;
    const s = net.connect({ port, host: "127.0.0.1" });
    const finish = (err, v) => { if (done) return; done = true; clearTimeout(timer); s.destroy(); err ? reject(err) : resolve(v); };
    const timer = setTimeout(() => finish(new Error(`${method} ${p}: no response within ${ms} ms: ${JSON.stringify(buf.toString("latin1").slice(0, 200))}`)), ms);
    const check = (closed) => {
      let r;
      try { r = parseResponse(buf, closed); } catch (e) { return finish(e); }
      if (r) finish(null, r);
      else if (closed) finish(new Error(`${method} ${p}: closed without a whole response: ${JSON.stringify(buf.toString("latin1").slice(0, 200))}`));
    };
    s.on("data", (d) => { buf = Buffer.concat([buf, d]); check(false); });
    s.on("error", (e) => finish(e));
    s.on("close", () => check(true));
    s.on("connect", () => {
      s.write(`${method} ${p} HTTP/1.1\r\n` + Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n");
      if (b) s.write(b);
    });
  });
}

export function api(port, method, params, token, headers = {}) {
  const h = { ...headers };
  if (token) h.Authorization = "Bearer " + token;
  if (params === undefined) return http(port, { path: "/api/" + method, headers: h });
  h["Content-Type"] = "application/json";
  return http(port, { method: "POST", path: "/api/" + method, headers: h, body: JSON.stringify(params) });
}

export async function memUsed(port) {
  const r = await api(port, "mem");
  if (r.status !== 200) throw new Error(`mem: ${r.status} ${r.text}`);
  return r.json;
}

// ------------------------------------------------------------------ WebSocket (raw TCP)

/** One unmasked-parse of server frames; client frames are masked as RFC 6455 requires. */
export function frame(op, payload = Buffer.alloc(0), fin = true) {
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const mask = crypto.randomBytes(4), n = p.length;
  const head = n < 126 ? Buffer.from([(fin ? 0x80 : 0) | op, 0x80 | n])
    : n < 65536 ? Buffer.from([(fin ? 0x80 : 0) | op, 0x80 | 126, n >> 8, n & 255])
      : Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | op, 0x80 | 127, 0, 0, 0, 0]), Buffer.from([n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255])]);
  const m = Buffer.from(p);
  for (let i = 0; i < n; i++) m[i] ^= mask[i & 3];
  return Buffer.concat([head, mask, m]);
}

/** Server frames at the start of buf: [{ op, fin, payload }], rest. */
function frames(buf) {
  const out = [];
  for (;;) {
    if (buf.length < 2) break;
    let n = buf[1] & 127, o = 2;
    if (n === 126) { if (buf.length < 4) break; n = buf.readUInt16BE(2); o = 4; }
    else if (n === 127) { if (buf.length < 10) break; n = Number(buf.readBigUInt64BE(2)); o = 10; }
    if (buf.length < o + n) break;
    out.push({ op: buf[0] & 15, fin: !!(buf[0] & 128), payload: buf.subarray(o, o + n) });
    buf = buf.subarray(o + n);
  }
  return [out, buf];
}

/**
 * A WebSocket client on /ws over raw TCP: handshake (resolves after the 101, or with
 * { refused: response } when the server answers otherwise). rpc(method, params) resolves with
 * the reply object; pushes and everything else land in .msgs; .close = { code, reason } once
 * the server sent its close frame, .tcpClosed once TCP closed.
 */
export function wsOpen(port, { origin, host = `127.0.0.1:${port}`, path: p = "/ws", connect = net.connect } = {}) {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: "127.0.0.1" });
    const c = { s, msgs: [], close: null, tcpClosed: false, id: 0, waiters: new Map(), poke: new Set(), rx: 0 };
    let buf = Buffer.alloc(0), open = false;
    const key = crypto.randomBytes(16).toString("base64");
    const wake = () => { for (const f of c.poke) f(); };
    s.on("error", () => {});
    s.on("close", () => { c.tcpClosed = true; if (!open) reject(new Error("closed during the handshake")); wake(); });
    s.on("connect", () => s.write(`GET ${p} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` + (origin ? `Origin: ${origin}\r\n` : "") + "\r\n"));
    s.on("data", (d) => {
      c.rx += d.length;
      buf = Buffer.concat([buf, d]);
      if (!open) {
        const r = parseResponse(buf, false);
        if (!r) return;
        if (r.status !== 101) { s.destroy(); resolve({ refused: r }); return; }
        open = true;
        buf = r.rest;
        resolve(c);
      }
      let fs_;
      [fs_, buf] = frames(buf);
      for (const f of fs_) {
        if (f.op === 8) c.close = { code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 0, reason: f.payload.subarray(2).toString() };
        else if (f.op === 9) s.write(frame(10, f.payload));
        else if (f.op === 1) {
          let m;
          try { m = JSON.parse(f.payload.toString()); } catch { m = { raw: f.payload.toString() }; }
          if (m && m.id !== undefined && c.waiters.has(m.id)) { c.waiters.get(m.id)(m); c.waiters.delete(m.id); } else c.msgs.push(m);
        }
      }
      wake();
    });
    c.send = (obj) => s.write(frame(1, typeof obj === "string" ? obj : JSON.stringify(obj)));
    c.rpc = (method, params, ms = 8000) => new Promise((ok, ko) => {
      const id = ++c.id, t = setTimeout(() => { c.waiters.delete(id); ko(new Error(`${method}: no reply within ${ms} ms`)); }, ms);
      c.waiters.set(id, (m) => { clearTimeout(t); ok(m); });
      c.send(params === undefined ? { id, method } : { id, method, params });
    });
    c.until = (pred, ms, what) => new Promise((ok, ko) => {
      const check = () => { if (pred()) { done(); ok(true); } };
      const t = setTimeout(() => { done(); ko(new Error(`${what} not within ${ms} ms`)); }, ms);
      const done = () => { clearTimeout(t); c.poke.delete(check); };
      c.poke.add(check);
      check();
    });
    c.end = () => { try { s.write(frame(8, Buffer.from([3, 232]))); } catch { /* gone */ } s.end(); };
    c.destroy = () => s.destroy();
  });
}

/** A password hash as sprat's auth.ts computes it: iter rounds of base64(SHA-256(h + salt + pw)). */
export function authHash(salt, pw, iter, alg = "sha256") {
  let h = "";
  for (let i = 0; i < iter; i++) h = crypto.createHash(alg).update(Buffer.from(h + salt + pw, "latin1")).digest("base64");
  return h;
}

export const readJson = (f) => JSON.parse(fs.readFileSync(f, "utf8"));
