// What tools/upload.mjs (npm run upload, npm run upload:web) and tools/dev-web.mjs share:
// building the device bundle and the web ZIP when stale, the web-app slot protocol of
// src/server/ota.ts, and a connection to a board through the EspruinoTools Node API (the
// `espruino` npm package, the same code as the `espruino` CLI and the Web IDE).
import fs from "node:fs";
import path from "node:path";
import net from "node:net";
import zlib from "node:zlib";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const rel = (p) => path.relative(process.cwd(), p) || ".";

// ---- the web-app slots (must match src/server/ota.ts and static.ts) --------------------
/** The pointer file naming the active web ZIP (static.ts's PTR). */
export const PTR = "web.ptr";
/** The two slots for a profile's webFile: [webFile, webFile + "~"] (ota.ts's A and B). */
export function slots(webFile) { return [webFile, webFile.length < 28 ? webFile + "~" : "web~"]; }
/** The active slot: the pointer's content, else webFile (static.ts's active()). */
export function activeSlot(ptr, webFile) { return ptr || webFile; }
/** The slot to write: the one that is not active (ota.ts's other()). */
export function inactiveSlot(ptr, webFile) { const [a, b] = slots(webFile); return activeSlot(ptr, webFile) == a ? b : a; }
/** Storage bytes of an n-byte file: a 32-byte header and the data padded to 8 (ota.ts's al()). */
export function cost(n) { return n < 0 ? 0 : ((n + 7) & ~7) + 32; }

/** CRC-32 (IEEE, as E.CRC32) of a Buffer. */
export function crc32(buf) { return zlib.crc32(buf) >>> 0; }

// ---- builds --------------------------------------------------------------------------
/** Newest mtime of the files under the given paths (relative to ROOT; folders walked). */
export function newest(paths) {
  let t = 0;
  const visit = (p) => {
    let st;
    try { st = fs.statSync(p); } catch { return; }
    if (st.isDirectory()) { for (const e of fs.readdirSync(p)) visit(path.join(p, e)); } else t = Math.max(t, st.mtimeMs);
  };
  paths.forEach((p) => visit(path.join(ROOT, p)));
  return t;
}

/** build/<profile>/app.min.js, rebuilt (that profile only) when missing or older than its inputs. */
export function ensureBundle(profile, { log = () => {}, force = false } = {}) {
  const bundle = path.join(ROOT, "build", profile, "app.min.js");
  const inputs = ["src", `board-profiles/${profile}.json`, "rollup.config.ts", "tsconfig.json",
    "tools/build-lib.mjs", "tools/gate.mjs", "tools/profiles.mjs", "package-lock.json"];
  let built = 0;
  try { built = fs.statSync(bundle).mtimeMs; } catch { /* missing */ }
  if (!force && built && built >= newest(inputs)) return bundle;
  log(`building ${rel(bundle)}${built ? " (stale)" : ""}`);
  const rollup = path.join(ROOT, "node_modules/rollup/dist/bin/rollup");
  const r = spawnSync(process.execPath, [rollup, "-c", "rollup.config.ts", "--configPlugin", "typescript={tsconfig:'tools/tsconfig.json'}", "--silent"],
    { cwd: ROOT, encoding: "utf8", env: { ...process.env, PROFILE: profile } });
  if (r.status !== 0 || !fs.existsSync(bundle)) throw new Error(`building the ${profile} bundle failed:\n${(r.stderr || "") + (r.stdout || "")}`.trim());
  return bundle;
}

/** build/web.zip (and its staging folder build/web/) from tools/build-web.mjs, rebuilt when stale. */
export async function ensureWeb({ log = () => {}, force = false, out = path.join(ROOT, "build/web.zip") } = {}) {
  let built = 0;
  try { built = fs.statSync(out).mtimeMs; } catch { /* missing */ }
  const stage = path.join(path.dirname(out), path.basename(out, ".zip") + ".stage"); // buildWeb's default
  if (!force && built && fs.existsSync(path.join(stage, "index.html")) &&
    built >= newest(["web", "tools/build-web.mjs", "tools/pack-web.mjs", "package-lock.json"])) return out;
  log(`building ${rel(out)}${built ? " (stale)" : ""}`);
  const { buildWeb } = await import(pathToFileURL(path.join(ROOT, "tools/build-web.mjs")).href);
  await buildWeb({ out, quiet: true });
  return out;
}

// ---- a board, through the EspruinoTools Node API -------------------------------------
export class DeployError extends Error {}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Does host:port accept a TCP connection within ms? Resolves "" or the reason it does not. */
export function probeTcp(host, port, ms = 3000) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (why) => { clearTimeout(t); s.destroy(); resolve(why); };
    const t = setTimeout(() => done(`no answer within ${ms} ms`), ms);
    s.on("connect", () => done(""));
    s.on("error", (e) => done(e.code === "ECONNREFUSED" ? "connection refused (nothing listens there)" : e.code === "ENOTFOUND" ? "unknown host" : e.message));
  });
}

/** "tcp://host[:port]" (port 23 by default, as the CLI) → {host, port}, else null. */
export function parseTcp(p) {
  if (!p.startsWith("tcp://")) return null;
  const hp = p.slice(6);
  const i = hp.lastIndexOf(":");
  return i < 0 ? { host: hp, port: 23 } : { host: hp.slice(0, i) || "localhost", port: Number(hp.slice(i + 1)) };
}

let tools = null;
/**
 * Loads EspruinoTools once (require("espruino").init: it evaluates its files into this
 * process's globals). Its chatter (console.log/warn/error) goes to `debug`.
 */
function loadTools(debug) {
  if (tools) return tools;
  const orig = { log: console.log, warn: console.warn, error: console.error };
  const quiet = (...a) => debug(a.map(String).join(" "));
  console.log = console.warn = console.error = quiet;
  const require = createRequire(import.meta.url);
  const esp = require("espruino");
  let ready = false;
  esp.init(() => { ready = true; });
  if (!ready) throw new Error("EspruinoTools did not initialise");
  // the tools log from callbacks for the whole session: keep them quiet (debug only)
  tools = { E: globalThis.Espruino, orig };
  return tools;
}

/**
 * Connects to a board: a serial port path, or tcp://host[:port] (Espruino's Telnet console:
 * ESP32/ESP8266 port 23, Espruino for Linux --telnet port 2323).
 * opts: baud (serial; default 115200), slow (true: the CLI's default 250 ms pause after each
 *   Storage.write line, for serial links that lose data), timeout (ms to connect, 10000),
 *   debug(line) (EspruinoTools' own log), config ({KEY: value} for Espruino.Config).
 * Returns a Device.
 */
export async function connect(port, opts = {}) {
  const { baud = 115200, slow = false, timeout = 10000, debug = () => {}, config = {} } = opts;
  const tcp = parseTcp(port);
  if (tcp) {
    if (!tcp.host || !(tcp.port > 0 && tcp.port < 65536)) throw new DeployError(`--port ${port}: expected tcp://host[:port]`);
    const why = await probeTcp(tcp.host, tcp.port, Math.min(timeout, 5000));
    if (why) throw new DeployError(`cannot connect to ${port}: ${why}`);
  } else if (process.platform !== "win32" && port.startsWith("/") && !fs.existsSync(port)) {
    throw new DeployError(`no serial port ${port}${listSerial()}`);
  }
  const { E } = loadTools(debug);
  const C = E.Config;
  // the CLI's --no-ble (without it 0.1.67 crashes on D-Bus), and the facts of its traps:
  C.BLUETOOTH_LOW_ENERGY = false;
  C.BLUETOOTH_LOW_ENERGY_DBUS = false;
  C.SERIAL_THROTTLE_SEND = 1;            // 0.1.67 hangs after short writes otherwise
  C.STORAGE_UPLOAD_METHOD = slow ? 0 : 1; // 1: no 250 ms pause per Storage.write line
  C.ENV_ON_CONNECT = false;              // we query process.env ourselves: no online board JSON
  C.RESET_BEFORE_SEND = false;
  C.SET_TIME_ON_WRITE = false;
  C.BAUD_RATE = baud;
  C.SERIAL_TCPIP = tcp ? [port] : [];
  for (const [k, v] of Object.entries(config)) C[k] = v;
  const dev = new Device(E, port, debug);
  await dev._open(timeout);
  return dev;
}

function listSerial() {
  try {
    const names = fs.readdirSync("/dev").filter((n) => /^(ttyUSB|ttyACM|cu\.|tty\.usb)/.test(n));
    return names.length ? ` (serial ports here: ${names.map((n) => "/dev/" + n).join(", ")})` : " (no USB serial ports found: is the board plugged in?)";
  } catch { return ""; }
}

export class Device {
  constructor(E, port, debug) {
    this.E = E;
    this.port = port;
    this.debug = debug;
    this.text = "";          // console output seen so far (outside expression results)
    this.closed = false;
    this.waiters = new Set();
  }

  _open(timeout) {
    const { E } = this;
    E.Core.Serial.startListening((buf) => {
      const s = Buffer.from(buf).toString("latin1");
      this.text += s;
      if (this.text.length > 200000) this.text = this.text.slice(-100000);
      this.debug("rx " + JSON.stringify(s));
      for (const w of this.waiters) w();
    });
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new DeployError(`cannot open ${this.port}: no connection within ${timeout} ms`)), timeout);
      E.Core.Serial.open(this.port, (status) => {
        clearTimeout(t);
        if (status === undefined || status === null || typeof status === "object" && status.error)
          reject(new DeployError(`cannot open ${this.port}${this.port.startsWith("tcp://") ? "" : listSerial()}`));
        else resolve();
      }, () => {
        this.closed = true;
        for (const w of this.waiters) w();
      });
    });
  }

  /** Console output matching re (a RegExp) after position `from` of this.text, within ms. */
  waitFor(re, ms, from = 0) {
    return new Promise((resolve) => {
      const check = () => {
        const m = this.text.slice(from).match(re);
        if (m || this.closed) { this.waiters.delete(check); clearTimeout(t); resolve(m); }
      };
      const t = setTimeout(() => { this.waiters.delete(check); resolve(null); }, ms);
      this.waiters.add(check);
      check();
    });
  }

  _exec(code, printed, { minTimeout = 4, maxTimeout = 60 } = {}) {
    if (this.closed) return Promise.reject(new DeployError(`the connection to ${this.port} closed`));
    return new Promise((resolve) => {
      this.E.Core.Utils.executeExpression(code, resolve, { exprPrintsResult: printed, minTimeout, maxTimeout });
    });
  }

  /**
   * The value of a JS expression on the board (JSON round trip). The expression runs inside
   * try/catch there, so a device-side exception becomes a DeployError with its message.
   */
  async eval(expr, opts = {}) {
    const r = await this._exec(`(function(){try{return{v:${expr}}}catch(e){return{e:""+e}}})()`, false, opts);
    if (r === undefined) throw new DeployError(this.closed ? `the connection to ${this.port} closed` : this.noAnswer());
    let j;
    try { j = JSON.parse(r); } catch { throw new DeployError(`unexpected answer from the board: ${JSON.stringify(r.slice(0, 200))}`); }
    if (j && j.e !== undefined) throw new DeployError(`on the board: ${j.e}`);
    return j ? j.v : undefined;
  }

  noAnswer() {
    return `the board on ${this.port} does not answer (no response from its JavaScript console)` +
      (this.port.startsWith("tcp://") ? "" : ": check the port, the baud rate (--baud) and that it runs Espruino");
  }

  /** Sends raw text to the console; resolves once written (no reply awaited). */
  send(text) {
    // not Serial.write(): 0.1.67 calls its callback only for writes longer than one block
    // (writeSerialWorker's showStatus), so a short write would never resolve
    return this.E.Core.Serial.connection.write(text);
  }

  /**
   * Writes bytes (Buffer) to the Storage file `name` the way the CLI's --storage does
   * (Utils.getUploadFileCode: Storage.write lines of 384 bytes, base64), in batches that each
   * end with a marker the board prints, so errors and progress are seen as they happen.
   * progress(done, total) after each batch.
   */
  async writeFile(name, data, progress = () => {}) {
    const U = this.E.Core.Utils;
    const lines = U.getUploadFileCode(name, data.toString("latin1")).split("\n");
    const PER = 384, BATCH = 16; // lines per batch: 6 KB of data
    for (let i = 0; i < lines.length; i += BATCH) {
      const part = lines.slice(i, i + BATCH).join("\n\x10");
      const out = await this._exec(part, true, { minTimeout: 15, maxTimeout: 120 });
      if (out === undefined) throw new DeployError(this.closed ? `the connection to ${this.port} closed while writing ${name}` : `${this.noAnswer()} (while writing ${name})`);
      const err = out.match(/(?:Uncaught )?(?:Error|InternalError|TypeError)\b[^\r\n]*/);
      if (err) throw new DeployError(`writing ${name} at byte ${i * PER}: ${err[0].trim()}`);
      progress(Math.min(data.length, (i + BATCH) * PER), data.length);
    }
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    try { this.E.Core.Serial.close(); } catch { /* gone */ }
  }
}

/** One expression that tells everything the upload needs about the board and its Storage. */
export function infoExpr(webFile) {
  const [a, b] = slots(webFile);
  const names = [".bootcde", ".bootrst", ".boot0", a, b, PTR, "wifi.json"];
  return `(function(){var S=require("Storage"),r={board:process.env.BOARD,version:process.env.VERSION,` +
    `modules:process.env.MODULES,crc:typeof E.CRC32=="function",free:S.getFree(),stats:S.getStats?S.getStats():null,ptr:S.read(${JSON.stringify(PTR)})||null,size:{}},` +
    `n=${JSON.stringify(names)},i,d;for(i=0;i<n.length;i++){d=S.read(n[i]);r.size[n[i]]=d===undefined?-1:d.length}return r})()`;
}

/** The CRC-32 and length of a Storage file, computed on the board: {n, crc} (n -1: missing). */
export function crcExpr(name) {
  return `(function(){var d=require("Storage").read(${JSON.stringify(name)});return d===undefined?{n:-1}:{n:d.length,crc:E.CRC32(d)>>>0}})()`;
}

/** Bytes → "12.1 KB". */
export function kb(n) { return n < 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} KB`; }
