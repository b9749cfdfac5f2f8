// An APPROXIMATE JsVar count (process.memory(), E.getSizeOf). Use a real board for real
// numbers. Model of a board with 14-byte JsVars (ESP32-like; notes §4.1):
//  - object/array/function: 1 block, + 1 name block per own property/element
//    (a name longer than 4 chars needs 1 more block per 10 chars);
//  - a string value: 1 block for <= 9 chars, + 1 per further 10 chars;
//  - ints, booleans, null, undefined are stored inside the name block (0 extra);
//    other numbers take 1 block;
//  - typed array: 1 + 1 (ArrayBuffer) + the backing string; ArrayBuffer: 1 + backing;
//  - function: 1 + 1 per parameter + 1 for its code (a 1-block native string when the
//    code was loaded from Storage, the usual case for a bundle).
// What can't be seen: closures' captured variables (V8 hides them), Espruino's internal
// bookkeeping, and properties added to built-in objects. We walk the context's global
// object (minus the built-ins present at start) plus the emulator's holders of JS values
// (sockets with their send/receive queues, servers, timers, queued events, pipes).
// Getters are never invoked; cycles are counted once.
const STR_FIRST = 9, STR_NEXT = 10, NAME_INLINE = 4;
const strBlocks = (n) => (n <= STR_FIRST ? 1 : 1 + Math.ceil((n - STR_FIRST) / STR_NEXT));
const nameBlocks = (k) => 1 + (k.length > NAME_INLINE ? Math.ceil((k.length - NAME_INLINE) / STR_NEXT) : 0);
const isInt = (v) => Number.isInteger(v) && v >= -2147483648 && v <= 2147483647;
const BASELINE = 40; // Espruino's own root/hidden objects at startup

export function createMemory(rt) {
  const builtins = new Set(), seenAtStart = new Set();
  function snapshot() { // call once the globals are installed
    const g = rt.realm.context;
    for (const k of Object.getOwnPropertyNames(g)) {
      const d = Object.getOwnPropertyDescriptor(g, k);
      builtins.add(k);
      for (const v of [d.value, d.value && d.value.prototype])
        if (v && (typeof v === "object" || typeof v === "function")) {
          seenAtStart.add(v);
          for (const kk of Object.getOwnPropertyNames(v)) {
            const dd = Object.getOwnPropertyDescriptor(v, kk);
            if (dd.value && (typeof dd.value === "object" || typeof dd.value === "function")) seenAtStart.add(dd.value);
          }
        }
    }
  }
  function count(roots) {
    const seen = new Set(seenAtStart);
    let blocks = 0;
    const stack = [...roots];
    const value = (v) => {
      if (typeof v === "string") return strBlocks(v.length);
      if (typeof v === "number") return isInt(v) ? 0 : 1;
      if (v !== null && (typeof v === "object" || typeof v === "function")) { stack.push(v); return 0; }
      return 0;
    };
    while (stack.length) {
      const v = stack.pop();
      if (v === null || (typeof v !== "object" && typeof v !== "function")) { blocks += v === undefined ? 0 : value(v) || 1; continue; }
      if (seen.has(v)) continue;
      seen.add(v);
      blocks += typeof v === "function" ? 2 + v.length : 1; // + params + code
      let skipIndices = false;
      if (Object.prototype.toString.call(v) === "[object ArrayBuffer]") blocks += strBlocks(v.byteLength);
      else if (ArrayBuffer.isView(v)) {
        skipIndices = true;
        if (!seen.has(v.buffer)) { seen.add(v.buffer); blocks += 1 + strBlocks(v.buffer.byteLength); }
      }
      for (const k of Object.getOwnPropertyNames(v)) {
        if (skipIndices && /^\d+$/.test(k)) continue;
        if (typeof v === "function" && /^(length|name|prototype|arguments|caller)$/.test(k)) continue;
        if (Array.isArray(v) && k === "length") continue;
        const d = Object.getOwnPropertyDescriptor(v, k);
        blocks += nameBlocks(k);
        if ("value" in d) blocks += value(d.value);
        else blocks += 1; // a getter/setter pair, never invoked
      }
    }
    return blocks;
  }

  return {
    snapshot,
    usage() {
      const g = rt.realm.context, roots = [];
      let names = 0;
      for (const k of Object.getOwnPropertyNames(g)) {
        if (builtins.has(k)) continue;
        names += nameBlocks(k);
        const d = Object.getOwnPropertyDescriptor(g, k);
        if ("value" in d && d.value !== undefined && !isInt(d.value)) roots.push(d.value);
      }
      for (const holder of rt.roots) roots.push(...holder().filter((v) => v !== ""));
      return BASELINE + names + count(roots);
    },
    sizeOf: (v) => count([v]),
  };
}
