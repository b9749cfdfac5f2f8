// Espruino host emulator: runs an Espruino script (a sprat bundle) in node:vm with
// Espruino-like globals, event loop, net/http/Storage/crypto. See README.md.
import vm from "node:vm";
import { createRealm } from "./realm.mjs";
import { noHoist } from "./transform.mjs";
import { Loop } from "./loop.mjs";
import { installEvents } from "./events.mjs";
import { createNet } from "./net.mjs";
import { createHttp } from "./http.mjs";
import { createStorage } from "./storage.mjs";
import { createE, createPipe, createCrypto } from "./espruino.mjs";
import { createMemory } from "./memory.mjs";
import { iterBytes } from "./bytes.mjs";

export const VERSION = "2v29-emu";

/** print()/console.log formatting: strings as-is, the rest JSON-ish. */
function show(v) {
  if (typeof v === "string") return v;
  if (typeof v === "function") return String(v);
  if (v === null || typeof v !== "object") return String(v);
  if (Object.prototype.toString.call(v) === "[object Error]" || v instanceof Error) return String(v);
  if (ArrayBuffer.isView(v)) return `new ${v.constructor.name}([${Array.prototype.join.call(v, ", ")}])`;
  try { return JSON.stringify(v) ?? String(v); } catch { return String(v); }
}

export function createEspruino(options = {}) {
  const opts = {
    flash: null, flashSize: 262144, pageSize: 1024, chunkSize: 536, host: "127.0.0.1",
    port: null, onListen: null, jsvars: 12000, resetError: false,
    log: (line) => process.stdout.write(line + "\n"),
    ...options,
  };
  const realm = createRealm();
  const { context, api, obj, lib, mkErr } = realm;
  const warned = new Set();
  const rt = {
    opts, realm, errors: [], warnings: [], stats: { rx: 0, tx: 0 }, roots: [], links: new Set(),
    log: (line) => opts.log(String(line)),
    warn: (msg) => { if (!warned.has(msg)) { warned.add(msg); rt.warnings.push(msg); rt.log("EMULATOR WARNING: " + msg); } },
  };
  rt.loop = new Loop(rt);
  rt.ev = installEvents(rt);
  const pipes = createPipe(rt);
  rt.pipe = pipes.pipe;
  rt.memory = createMemory(rt);
  const netMod = createNet(rt), httpMod = createHttp(rt);
  let storage = null; // opened on first require("Storage")
  const crypto = createCrypto(rt);
  const E = createE(rt);

  const memory = () => {
    const usage = rt.memory.usage(), total = opts.jsvars;
    return obj({ free: Math.max(0, total - usage), usage, total, history: 0, gc: 0, gctime: 0, blocksize: 14 });
  };
  const env = obj({
    VERSION, GIT_COMMIT: "emulator", BOARD: "EMULATOR", RAM: 0, FLASH: 0, STORAGE: opts.flashSize,
    SERIAL: "emulator", CONSOLE: "USB", MODULES: "net,Storage,crypto,http", ...(opts.env || {}),
  });
  rt.process = lib({ env, version: VERSION, memory: api(memory) });
  const print = api((...a) => rt.log(a.map(show).join(" ")));
  const modules = {
    net: () => netMod.module,
    http: () => httpMod.module,
    crypto: () => crypto,
    Storage: () => {
      if (!opts.flash) throw mkErr("Error", "Storage needs opts.flash (an image file) in the emulator");
      storage ??= createStorage(rt);
      return storage.module;
    },
  };
  const globals = {
    print, console: lib({ log: print, info: print, warn: print, error: print, debug: print }),
    process: rt.process, E,
    require: api((name) => {
      if (!Object.hasOwn(modules, name)) throw mkErr("Error", `Module ${JSON.stringify(String(name))} not found`);
      return modules[name]();
    }),
    setTimeout: api((fn, ms, ...args) => rt.loop.addTimer(fn, ms, args, false)),
    setInterval: api((fn, ms, ...args) => rt.loop.addTimer(fn, ms, args, true)),
    clearTimeout: api((...a) => rt.loop.clearTimer(a.length, a[0])),
    clearInterval: api((...a) => rt.loop.clearTimer(a.length, a[0])),
    getTime: api(() => Date.now() / 1000),
    btoa: api((d) => {
      if (typeof d !== "string" && !Array.isArray(d) && !ArrayBuffer.isView(d) &&
          Object.prototype.toString.call(d) !== "[object ArrayBuffer]")
        throw mkErr("Error", "Expecting String or Array, got " + typeof d);
      return Buffer.from(iterBytes(d, [], rt.warn)).toString("base64");
    }),
    atob: api((s) => {
      if (typeof s !== "string") throw mkErr("Error", "Expecting String, got " + typeof s);
      return Buffer.from(s, "base64").toString("latin1");
    }),
  };
  for (const [k, v] of Object.entries(globals))
    Object.defineProperty(context, k, { value: v, writable: true, configurable: true, enumerable: false });
  rt.memory.snapshot();

  rt.roots.push(netMod.roots, httpMod.roots, pipes.roots,
    () => [...rt.loop.timers.values()].map((t) => ({ cb: t.fn, args: t.args, time: 0.5, intr: t.interval + 0.5 })),
    () => rt.loop.events.map((e) => ({ func: e.cb, this: e.self, args: e.args })));

  let booted = false;
  const fireE = (event) => {
    if (Object.hasOwn(E, "#on" + event)) rt.loop.execute(E, E["#on" + event], []);
  };

  return {
    global: context,
    errors: rt.errors,
    warnings: rt.warnings,
    stats: rt.stats,
    /** Evaluate a script like Espruino would (no hoisting). Uncaught errors are reported, not thrown. */
    run(code, filename = "app.js") {
      let result;
      try { result = vm.runInContext(noHoist(String(code)), context, { filename }); }
      catch (e) { rt.loop.uncaught(e instanceof Error && !(e instanceof realm.R.Error) ? mkErr(e.name === "SyntaxError" ? "SyntaxError" : "Error", e.message) : e); }
      if (!booted) { booted = true; fireE("init"); }
      rt.loop.wake();
      return result;
    },
    memory,
    /** E.on('kill') handlers, then close every server and socket and clear timers. */
    async stop() {
      if (rt.loop.stopped) return;
      fireE("kill");
      rt.loop.stop();
      const closed = Promise.all([netMod.stop(), httpMod.stop()]);
      for (const link of rt.links) link.sock.destroy();
      await closed;
      if (storage) storage.close();
    },
  };
}
