// The `E` object, E.pipe (src/jswrap_pipe.c) and require("crypto").
import crypto from "node:crypto";
import { iterBytes, rawBytes, crc32 } from "./bytes.mjs";

export function createPipe(rt) {
  const { realm, loop, ev } = rt;
  const { api, obj, mkErr } = realm;
  const pipes = []; // {obj, source, dest, chunkSize, end, drainWait}

  // Listeners added to source/dest, like Espruino's native ones (they show in "#on...").
  const onDrain = api(function (d) { for (const p of pipes) if (p.dest === d) p.drainWait = false; });
  const closer = (key) => api(function () { for (const p of pipes.filter((q) => q[key] === this)) close(p); });
  const onSrcClose = closer("source"), onDstClose = closer("dest");

  const call = (self, name, args = []) => {
    try { return typeof self[name] === "function" ? Reflect.apply(self[name], self, args) : undefined; }
    catch (e) { loop.uncaught(e); return undefined; }
  };
  function close(p) {
    const i = pipes.indexOf(p);
    if (i < 0) return;
    pipes.splice(i, 1);
    loop.queueObj(p.obj, "complete", [p.obj]);
    const buf = ev.streamBufs.get(p.source);
    if (buf) { ev.streamBufs.delete(p.source); call(p.dest, "write", [buf]); }
    if (p.end) {
      ev.removeAll(p.dest, "drain"); ev.removeAll(p.dest, "close"); // ALL listeners, as Espruino does
      call(p.dest, "end"); call(p.dest, "close");
      ev.removeAll(p.source, "close");
      call(p.source, "close");
    }
  }

  function pipe(source, dest, options) {
    if (!source || !dest) return;
    if (typeof source === "string") {
      const s = source; let pos = 0;
      source = obj({ read: api((l) => s.substring(pos, (pos += l)) || undefined) });
    }
    if (typeof source.read !== "function")
      throw mkErr("Error", "Source object does not implement the required read(buffer, length) method");
    if (typeof dest.write !== "function")
      throw mkErr("Error", "Destination object does not implement the required write(buffer, length) method");
    const p = { obj: obj(), source, dest, chunkSize: 64, end: true, drainWait: false };
    if (options !== null && typeof options === "object") {
      if (options.complete !== undefined) p.obj["#oncomplete"] = options.complete;
      if (options.end !== undefined) p.end = !!options.end;
      if (options.chunkSize !== undefined) {
        if (typeof options.chunkSize === "number" && options.chunkSize > 0) p.chunkSize = options.chunkSize | 0;
        else throw mkErr("TypeError", "chunkSize must be an integer > 0");
      }
    } else if (options !== undefined) throw mkErr("TypeError", "'options' must be an object, or undefined");
    ev.on(source, "close", onSrcClose);
    ev.on(dest, "drain", onDrain);
    ev.on(dest, "close", onDstClose);
    pipes.push(p);
    loop.wake();
  }

  loop.idlers.push(() => {
    let busy = false;
    for (const p of [...pipes]) {
      if (p.drainWait || !pipes.includes(p)) continue;
      const data = call(p.source, "read", [p.chunkSize]);
      if (data === undefined) { close(p); continue; }
      if (data !== null && data.length > 0 && call(p.dest, "write", [data]) === false) p.drainWait = true;
      busy = true;
    }
    return busy;
  });
  return { pipe, roots: () => pipes.flatMap((p) => [p.obj, p.source, p.dest]) };
}

export function createE(rt) {
  const { realm, loop } = rt;
  const { api, lib, arr, ab, R, mkErr } = realm;
  const toStr = (bytes) => Buffer.from(bytes).toString("latin1");
  const E = lib({
    toUint8Array: api((...a) => new R.Uint8Array(iterBytes(a, [], rt.warn))),
    toString: api((...a) => (a.length === 1 && typeof a[0] === "string" ? a[0] : toStr(iterBytes(a, [], rt.warn)))),
    toFlatString: api((...a) => (a.length === 1 && typeof a[0] === "string" ? a[0] : toStr(iterBytes(a, [], rt.warn)))),
    // A copy: on Espruino this is a view over the string (writes through it change it).
    toArrayBuffer: api((s) => ab(iterBytes(String(s), [], rt.warn))),
    CRC32: api((d) => crc32(iterBytes(d, [], rt.warn))),
    isUTF8: api(() => false), // boards are built without ESPR_UNICODE_SUPPORT
    getSizeOf: api((v) => rt.memory.sizeOf(v)),
    pipe: api((s, d, o) => rt.pipe(s, d, o)),
    getTemperature: api(() => NaN),
    getErrorFlags: api(() => arr()),
    kickWatchdog: api(() => {}),
    enableWatchdog: api(() => {}),
    reboot: api(() => { throw mkErr("Error", "E.reboot() is not supported in the emulator"); }),
  });
  return E;
}

export function createCrypto(rt) {
  const { api, lib, ab, mkErr } = rt.realm;
  const sha = (alg) => api((d) => ab(crypto.createHash(alg).update(rawBytes(d, mkErr, rt.warn)).digest()));
  return lib({ SHA1: sha("sha1"), SHA224: sha("sha224"), SHA256: sha("sha256"), SHA384: sha("sha384"), SHA512: sha("sha512") });
}
