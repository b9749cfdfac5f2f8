// A fresh vm context whose intrinsics are trimmed to what Espruino 2v29 has.
// The lists below were checked on the 2v29 Linux binary (instance-level `typeof`,
// e.g. `typeof [].at`, since Espruino's `X.prototype.y` lookups are unreliable).
//
// Not emulated (V8 semantics remain):
//  - `Array.prototype.slice`, `String.prototype.charCodeAt`, `Function.prototype.call`
//    are *undefined* on Espruino (only `[].slice` works). We can't delete them without
//    deleting the methods themselves; tools/gate.mjs catches that statically.
//  - functions have no `.name`, errors have no `.name`, RegExp has no `flags`/`global`
//    (V8's RegExp methods need them), `new TypeError() instanceof Error` is false.
//  - `let` in `for` has no per-iteration binding on Espruino; here it has.
//  - Espruino's RegExp subset, `split(sep, limit)` ignoring limit, inexact Math.pow,
//    error messages of runtime faults ("Function \"f\" not found!").
import vm from "node:vm";

const STRIP = {
  globalThis: "Map Set WeakMap WeakSet WeakRef FinalizationRegistry Symbol Proxy Reflect BigInt " +
    "BigInt64Array BigUint64Array TextEncoder TextDecoder Buffer setImmediate clearImmediate " +
    "queueMicrotask structuredClone Intl SharedArrayBuffer Atomics WebAssembly fetch RangeError " +
    "EvalError URIError AggregateError escape unescape encodeURI decodeURI",
  Array: "from of fromAsync",
  "Array.prototype": "lastIndexOf reduceRight flat flatMap at findLast findLastIndex copyWithin " +
    "keys values entries toReversed toSorted toSpliced with",
  String: "fromCodePoint raw",
  "String.prototype": "codePointAt normalize trimStart trimEnd trimLeft trimRight at localeCompare " +
    "search matchAll isWellFormed toWellFormed anchor big blink bold fixed fontcolor fontsize " +
    "italics link small strike sub sup",
  Object: "freeze seal is isFrozen isSealed preventExtensions isExtensible hasOwn groupBy getOwnPropertySymbols",
  "Object.prototype": "isPrototypeOf propertyIsEnumerable toLocaleString __defineGetter__ " +
    "__defineSetter__ __lookupGetter__ __lookupSetter__",
  Number: "isInteger isFinite isNaN parseInt parseFloat MAX_SAFE_INTEGER MIN_SAFE_INTEGER EPSILON isSafeInteger",
  "Number.prototype": "toPrecision toExponential toLocaleString",
  Math: "trunc log2 log10 hypot imul clz32 cbrt fround log1p expm1 sinh cosh tanh asinh acosh atanh",
  Promise: "race allSettled any withResolvers",
  "Promise.prototype": "finally",
  ArrayBuffer: "isView",
  "ArrayBuffer.prototype": "slice resize transfer transferToFixedLength",
  "Object.getPrototypeOf(Uint8Array)": "from of",
  "Object.getPrototypeOf(Uint8Array.prototype)": "at findLast findLastIndex copyWithin lastIndexOf " +
    "reduceRight entries keys values toReversed toSorted with",
  Date: "UTC",
  "Date.prototype": "toLocaleString toLocaleDateString toLocaleTimeString",
};

// Espruino-only bits that are cheap to provide.
const EXTRAS = `
  Math.clip = function (x, a, b) { return x < a ? a : x > b ? b : x; };
  Math.wrap = function (x, max) { x = x % max; return x < 0 ? x + max : x; };
  Math.randInt = function (n) { return (Math.random() * n) | 0; };
  globalThis.InternalError = function InternalError(message) { this.message = message; };
  InternalError.prototype.toString = function () { return "InternalError: " + this.message; };
  globalThis.global = globalThis;
  // Espruino 2v29's forward String indexOf/includes run past the last full position and
  // report a match where the string's tail is a prefix of the needle ("abc".indexOf("cd")
  // is 2; jswrap_string_indexOf, checked on the 2v29 binary). Reproduced so CI catches it.
  (function (P) {
    var ix = P.indexOf;
    P.indexOf = function (n, from) {
      var s = String(this), r = ix.call(s, n, from), i, end;
      n = String(n);
      if (!s.length) return -1;
      if (r >= 0 || n.length < 2 || n.length > s.length) return n.length > s.length ? -1 : r;
      end = s.length - n.length + 1;
      i = from > 0 ? Math.min(Math.floor(from), end) : 0;
      for (; i < s.length; i++) if (n.substr(0, s.length - i) === s.substr(i)) return i;
      return -1;
    };
    P.includes = function (n, from) { return this.indexOf(n, from) >= 0; };
  })(String.prototype);
  // Board builds have no Unicode: JSON.stringify escapes every char >= 0x7F as a 4-hex escape
  // (uppercase hex), so UTF-8 bytes in strings come out escaped (checked on 2v29).
  (function (str) {
    JSON.stringify = function (v, r, i) {
      var o = str(v, r, i);
      return typeof o == "string" ? o.replace(/[\u007f-\uffff]/g, function (c) {
        return "\\\\u" + ("000" + c.charCodeAt(0).toString(16).toUpperCase()).slice(-4);
      }) : o;
    };
  })(JSON.stringify);
`;

export function createRealm() {
  const context = vm.createContext({}, { name: "espruino-emu" });
  const R = vm.runInContext(
    "({Object, Array, Error, TypeError, SyntaxError, ReferenceError, ArrayBuffer, Uint8Array, JSON})", context);
  let strip = "";
  for (const [where, names] of Object.entries(STRIP))
    for (const n of names.split(" ")) strip += `delete ${where}[${JSON.stringify(n)}];\n`;
  vm.runInContext(strip + EXTRAS, context);
  R.InternalError = context.InternalError;

  const mkErr = (type, msg) => new R[type](msg);
  // Host functions exposed to the script are wrapped in a context-realm function, and
  // host-realm exceptions (bugs, Node errors) are rethrown as context-realm Errors, so
  // `typeof`, `instanceof Error` and friends behave as for native functions.
  const wrapper = vm.runInContext("(function (h) { return function () { return h(this, arguments); }; })", context);
  const api = (fn) => wrapper((self, args) => {
    try { return fn.apply(self, args); }
    catch (e) { throw e instanceof Error ? mkErr("Error", e.message) : e; }
  });
  const obj = (props = {}) => Object.assign(new R.Object(), props);
  /** A built-in-like object: its methods are not enumerable (Object.keys(require("net")) is []). */
  const lib = (methods) => {
    const o = new R.Object();
    for (const [k, v] of Object.entries(methods)) Object.defineProperty(o, k, { value: v, writable: true, configurable: true });
    return o;
  };
  const arr = (items = []) => { const a = new R.Array(); for (const x of items) a.push(x); return a; };
  const ab = (bytes) => new R.Uint8Array(bytes).buffer;
  return { context, R, api, mkErr, obj, lib, arr, ab };
}
