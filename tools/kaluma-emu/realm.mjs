// A node:vm context whose intrinsics are JerryScript 2.4's (es.next profile, as Kaluma 1.2.1
// builds it): every string-keyed property V8 has and JerryScript's built-in tables do not
// list is deleted (jerry-builtins.mjs). What stays V8: the engine's semantics (error
// messages, Date/RegExp details, Promise jobs as microtasks), the same caveat as tools/emu.
//
// Unlike Espruino, JerryScript is a conforming ES engine: functions hoist, Array.prototype.x
// works, JSON.stringify does not escape chars >= 0x7F, String#indexOf is right. So none of
// tools/emu/realm.mjs's Espruino reproductions (no-hoisting rewrite, indexOf bug, board
// JSON escaping) apply here, and only its host-function wrapping idea is shared.
import vm from "node:vm";
import { JERRY_BUILTINS } from "./jerry-builtins.mjs";

export function createRealm() {
  const context = vm.createContext({}, { name: "kaluma-emu" });
  let strip = "";
  for (const [where, names] of Object.entries(JERRY_BUILTINS)) {
    strip += `(function (o, keep) { if (!o) return; for (const k of Object.getOwnPropertyNames(o)) if (!keep.has(k)) delete o[k]; })` +
      `(${where}, new Set(${JSON.stringify(names.split(" "))}));\n`;
  }
  vm.runInContext(strip, context);
  const R = vm.runInContext("({Object, Array, Error, TypeError, RangeError, Uint8Array, ArrayBuffer, JSON})", context);
  const mkErr = (type, msg) => new R[type](msg);
  // Host functions look native to the script (typeof, instanceof Error), host-realm errors
  // come out as context-realm Errors.
  const wrapper = vm.runInContext("(function (h) { return function () { return h(this, arguments); }; })", context);
  const api = (fn) => wrapper((self, args) => {
    try { return fn.apply(self, args); }
    catch (e) { throw e instanceof Error ? mkErr(e instanceof TypeError ? "TypeError" : "Error", e.message) : e; }
  });
  const obj = (props = {}) => Object.assign(new R.Object(), props);
  const arr = (items = []) => { const a = new R.Array(); for (const x of items) a.push(x); return a; };
  /** A context Uint8Array over a fresh ArrayBuffer (byteOffset 0) holding `bytes`. */
  const u8 = (bytes) => { const u = new R.Uint8Array(bytes.length); u.set(bytes); return u; };
  return { context, R, api, mkErr, obj, arr, u8 };
}
