// Kaluma emulator: runs a script (a sprat bundle built for a "kaluma" profile) in node:vm
// with what Kaluma 1.2.1 gives a program on a Raspberry Pi Pico W: JerryScript 2.4's
// built-ins (realm.mjs), Kaluma's globals, its modules as they behave (lib.js), the CYW43
// network and Wifi devices (cyw43.mjs) and the LittleFS mount on "/" (lfs.mjs). See README.md.
//
// The event loop is tools/emu's (imported): timers, then the device poll, then queued events.
import vm from "node:vm";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Loop } from "../emu/loop.mjs";
import { createRealm } from "./realm.mjs";
import { createCyw43 } from "./cyw43.mjs";
import { createLfs, LFS } from "./lfs.mjs";

export const VERSION = "1.2.1";
const HERE = path.dirname(fileURLToPath(import.meta.url));
// targets/rp2/target.cmake (MODULES, pico-w) + pico_cyw43; what this emulator implements:
const BUILTINS = "events gpio led button pwm adc i2c spi uart graphics at storage wifi stream net http url rp2 rtc path flash fs vfs_lfs vfs_fat sdcard wdt startup pico_cyw43".split(" ");
const EMULATED = new Set(["events", "stream", "net", "wifi", "fs", "storage", "wdt"]);
const HEAP = 180 * 1024; // TARGET_HEAPSIZE 180 (KB) for RP2040 boards, targets/rp2/target.cmake

function show(v) {
  if (typeof v === "string") return v;
  if (v === null || typeof v !== "object") return String(v);
  if (Object.prototype.toString.call(v) === "[object Error]") return String(v);
  if (ArrayBuffer.isView(v)) return `${v.constructor.name} [${Array.prototype.join.call(v, ", ")}]`;
  try { return JSON.stringify(v) ?? String(v); } catch { return String(v); }
}

/**
 * opts: dir (the LittleFS root: a host directory, created if missing), port(requested) ->
 * actual (0: ephemeral), host ("127.0.0.1"), onListen(requested, actual), log(line),
 * networks ({ssid: password} the Wifi can join; default none), kv ({key: value} in Kaluma's
 * `storage`), routing ("socket" | "shipped", see cyw43.mjs), ip (the station address the
 * net device reports, "127.0.0.1"), linkRate (bytes lwIP may send per poll and connection:
 * Infinity), onReset() (the watchdog fired: the board would reboot), write(text) (print's
 * output as it comes; without it print's text goes to log() line by line).
 */
export function createKaluma(options = {}) {
  const opts = {
    dir: null, port: null, host: "127.0.0.1", onListen: null, networks: {}, kv: {}, routing: "socket", ip: "127.0.0.1", linkRate: Infinity,
    onReset: null, write: null, log: (line) => process.stdout.write(line + "\n"), ...options,
  };
  if (!opts.dir) throw new Error("createKaluma: opts.dir (the LittleFS directory) is required");
  const realm = createRealm();
  const { context, api, obj, arr, mkErr, u8 } = realm;
  const warned = new Set();
  const rt = {
    opts, realm, global: context, errors: [], warnings: [], stats: { rx: 0, tx: 0, errMem: 0, refused: 0 }, hostSockets: new Set(), codeBytes: 0,
    log: (line) => opts.log(String(line)),
    warn: (msg) => { if (!warned.has(msg)) { warned.add(msg); rt.warnings.push(msg); rt.log("EMULATOR WARNING: " + msg); } },
  };
  rt.loop = new Loop(rt);
  const { loop } = rt;
  const def = (name, value) => Object.defineProperty(context, name, { value, writable: true, configurable: true, enumerable: false });

  // SystemError(errno): message from src/err.c's table (errno made negative)
  vm.runInContext(`globalThis.SystemError = class SystemError extends Error {
    constructor(errno) { if (errno > 0) errno = -errno; super(${JSON.stringify({ 2: "No such file or directory", 5: "I/O error", 6: "No such device or address", 9: "Bad file number", 17: "File exists", 21: "Is a directory", 22: "Invalid argument", 28: "No space left on device", 39: "Directory not empty", 121: "Remote I/O error" })}[-errno] || "Unknown error"); this.errno = errno; }
  };`, context);
  def("global", context);

  // ---- console, print (src/global.c: console has log and error only; print adds no newline)
  let partial = "";
  const flush = () => { if (partial) { rt.log(partial); partial = ""; } };
  const line = (...a) => { flush(); rt.log(a.map(show).join(" ")); };
  def("console", obj({ log: api(line), error: api(line) }));
  // with opts.write (a console), print's text goes out at once, as on the board's USB console;
  // log() takes whole lines, so for it a partial line waits for its newline
  def("print", api((...a) => {
    if (opts.write) { flush(); opts.write(a.map(show).join(" ")); return; }
    partial += a.map(show).join(" ");
    const parts = partial.split("\n");
    partial = parts.pop();
    for (const p of parts) rt.log(p);
  }));
  def("seed", api(() => {}));

  // ---- timers (src/global.c): callback and delay required; a callback that throws is printed
  // and its timer (interval or not) is stopped
  const T0 = Date.now();
  const timer = (repeat) => api((fn, delay) => {
    if (typeof fn !== "function") throw new TypeError('"callback" argument must be function');
    if (typeof delay !== "number") throw new TypeError('"delay" argument must be number');
    let id = 0;
    const run = () => {
      try { Reflect.apply(fn, undefined, []); } catch (e) { loop.timers.delete(id); throw e; }
    };
    id = loop.addTimer(run, Math.max(delay, 0), [], repeat);
    return id;
  });
  def("setTimeout", timer(false));
  def("setInterval", timer(true));
  const clear = api((id) => {
    if (typeof id !== "number") throw new TypeError('"id" argument must be number');
    loop.timers.delete(id);
  });
  def("clearTimeout", clear);
  def("clearInterval", clear);
  def("millis", api(() => Date.now() - T0));
  def("micros", api(() => (Date.now() - T0) * 1000));
  def("delay", api(() => {}));
  def("delayMicroseconds", api(() => {}));

  // ---- pins (src/global.c): numbers; analogRead is 0..1 of 3.3 V; pin 30 is the RP2040's
  // temperature sensor (ADC input 4, targets/rp2/src/adc.c)
  const C = { HIGH: 1, LOW: 0, INPUT: 0, OUTPUT: 1, INPUT_PULLUP: 2, INPUT_PULLDOWN: 3, LOW_LEVEL: 1, HIGH_LEVEL: 2, FALLING: 4, RISING: 8, CHANGE: 12 };
  for (const [k, v] of Object.entries(C)) def(k, v);
  const pins = new Map();
  const pin = (p) => { if (typeof p !== "number") throw new TypeError('"pin" argument must be number'); return p; };
  def("pinMode", api((p) => { pin(p); }));
  def("digitalWrite", api((p, v) => { pins.set(pin(p), v ? 1 : 0); }));
  def("digitalRead", api((p) => pins.get(pin(p)) || 0));
  def("digitalToggle", api((p) => { pins.set(pin(p), pins.get(pin(p)) ? 0 : 1); }));
  def("analogWrite", api((p, v = 0.5) => { pins.set(pin(p), Math.min(1, Math.max(0, v))); }));
  def("analogRead", api((p) => {
    pin(p);
    if (p === 30) return (0.706 - (25 + Math.random() - 27) * 0.001721) / 3.3; // about 25 °C
    if (p >= 26 && p <= 29) return 0.5;
    throw new rt.global.SystemError(-22);
  }));
  for (const n of ["tone", "noTone", "setWatch", "clearWatch", "attachInterrupt", "detachInterrupt", "enableInterrupts", "disableInterrupts", "pulseRead", "pulseWrite"]) def(n, api(() => {}));

  // ---- btoa/atob, TextEncoder/TextDecoder (src/global.c): btoa takes a Uint8Array or a
  // string of chars 0-255; atob returns a Uint8Array (not a string, unlike Espruino's)
  const latin1 = (s) => { const b = Buffer.alloc(s.length); for (let i = 0; i < s.length; i++) { const c = s.charCodeAt(i); b[i] = c > 255 ? 0 : c; } return b; };
  def("btoa", api((d) => {
    if (d instanceof realm.R.Uint8Array) return Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString("base64");
    if (typeof d === "string") return latin1(d).toString("base64");
    throw new TypeError("Unsupported binary data.");
  }));
  def("atob", api((s) => {
    if (typeof s !== "string") throw new TypeError('"encodedData" argument must be string');
    return u8(Buffer.from(s, "base64"));
  }));
  vm.runInContext(`
    globalThis.TextEncoder = function TextEncoder(label) { this.encoding = label === undefined ? "utf-8" : label; };
    globalThis.TextDecoder = function TextDecoder(label) { this.encoding = label === undefined ? "utf-8" : label; };`, context);
  context.TextEncoder.prototype.encode = api(function (s) {
    if (typeof s !== "string") throw new TypeError('"input" argument must be string');
    if (this.encoding === "ascii") return u8(latin1(s));
    if (this.encoding === "utf-8") return u8(Buffer.from(s, "utf8"));
    throw new Error("Unsupported encoding.");
  });
  context.TextDecoder.prototype.decode = api(function (u) {
    if (!(u instanceof realm.R.Uint8Array)) throw new Error("input must be Uint8Array.");
    const b = Buffer.from(u.buffer, u.byteOffset, u.byteLength);
    if (this.encoding === "ascii") return b.toString("latin1");
    if (this.encoding === "utf-8") return b.toString("utf8");
    throw new Error("Unsupported encoding.");
  });

  // ---- devices and file system (what targets/rp2/boards/pico-w/board.js sets up at boot)
  const lfs = createLfs(rt, opts.dir);
  const cyw = createCyw43(rt);
  loop.idlers.push(() => cyw.idle());
  def("__netdev", cyw.netdev);
  def("__ieee80211dev", cyw.wifidev);
  const kvData = new Map(Object.entries(opts.kv).map(([k, v]) => [k, String(v)]));
  const kv = obj({
    getItem: api((k) => (kvData.has(k) ? kvData.get(k) : null)),
    setItem: api((k, v) => { kvData.set(k, v); }),
    removeItem: api((k) => { kvData.delete(k); }),
    clear: api(() => kvData.clear()),
    key: api((i) => [...kvData.keys()][i] ?? null),
    length: api(() => kvData.size),
  });
  let wdt = null;
  const wdtNative = obj({
    enable: api((ms) => {
      clearTimeout(wdt);
      rt.log(`[kaluma-emu] watchdog enabled: ${ms} ms`);
      const arm = () => { wdt = setTimeout(() => { rt.log("[kaluma-emu] watchdog reset"); if (opts.onReset) opts.onReset(); }, Math.max(ms, 1)); };
      arm();
      wdtNative.arm = arm;
    }),
    feed: api(() => { if (wdt) { clearTimeout(wdt); wdtNative.arm(); } }),
  });
  const factory = vm.runInContext(fs.readFileSync(path.join(HERE, "lib.js"), "utf8"), context, { filename: "kaluma-emu/lib.js" });
  const libs = factory(obj({ lfs: lfs.native, kv, wdt: wdtNative }));

  // ---- process, require, board, storage (src/global.c, src/modules/startup/startup.js)
  const cache = new Map();
  const require = api((id) => {
    if (cache.has(id)) return cache.get(id).exports;
    if (!BUILTINS.includes(id)) throw mkErr("Error", "Failed to load module: " + id);
    if (!EMULATED.has(id)) throw mkErr("Error", `Kaluma module "${id}" is not emulated`);
    const mod = obj({ id, exports: obj() });
    cache.set(id, mod);
    libs[id](mod.exports, require, mod);
    return mod.exports;
  });
  def("require", require);
  def("process", obj({
    arch: "cortex-m0-plus", platform: "rp2", version: VERSION + "-emu", builtin_modules: arr(BUILTINS),
    // JerryScript's heap (jerry_get_memory_stats; Kaluma builds with --mem-stats=ON, so
    // heapUsed is never 0 on a board): its size, and as heapUsed a floor, the bytes of the
    // programs run (JerryScript parses the whole program into the heap); objects not counted
    memoryUsage: api(() => obj({ heapTotal: HEAP, heapUsed: Math.min(HEAP, rt.codeBytes), heapPeak: Math.min(HEAP, rt.codeBytes) })),
    binding: api(() => { throw mkErr("Error", "process.binding is not emulated"); }),
  }));
  def("board", obj({ name: "pico-w" }));
  Object.defineProperty(context, "storage", { get: api(() => require("storage")), configurable: true });

  return {
    global: context,
    errors: rt.errors,
    warnings: rt.warnings,
    stats: rt.stats,
    slots: cyw.slots,
    wifi: cyw.wifiState,
    usedBlocks: lfs.usedBlocks,
    geometry: LFS,
    /** Runs the program as Kaluma runs the one in flash at boot; errors are printed, not thrown. */
    run(code, filename = "app.js") {
      let result;
      rt.codeBytes += String(code).length;
      try { result = vm.runInContext(String(code), context, { filename }); }
      catch (e) { loop.uncaught(e); }
      loop.wake();
      return result;
    },
    async stop() {
      if (loop.stopped) return;
      flush();
      clearTimeout(wdt);
      loop.stop();
      for (const s of rt.hostSockets) s.destroy();
      await cyw.stop();
    },
  };
}
