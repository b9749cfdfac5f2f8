// Byte and string conversions with Espruino's rules.
// Espruino strings on the target boards are 8-bit: one char per byte. Node strings
// can hold chars > 255; wherever such a char meets a byte boundary we keep the low
// byte (what a board without ESPR_UNICODE_SUPPORT stores for String.fromCharCode(0x2603)
// or "\u2603") and report it through `warn` (the Linux build would UTF-8 encode).

const isAB = (v) => Object.prototype.toString.call(v) === "[object ArrayBuffer]";
const isView = (v) => ArrayBuffer.isView(v);
export { isAB, isView };

/** Binary string -> Buffer (low byte of each char). */
export function strToBuf(s, warn) {
  const b = Buffer.from(s, "latin1");
  if (warn && /[^\x00-\xff]/.test(s)) warn("char > 255 in a binary string: low byte used");
  return b;
}
export const bufToStr = (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");

/** jsvAsString as used by Socket.write / res.write. undefined -> null (write nothing). */
export function asString(v) {
  if (v === undefined) return null;
  if (typeof v === "string") return v;
  if (v === null) return "null";
  if (isAB(v)) return Array.prototype.join.call(new Uint8Array(v), ",");
  if (isView(v)) return Array.prototype.join.call(v, ",");
  return String(v); // numbers, booleans, arrays ("1,2,3"), objects via toString()
}

/** Raw bytes of a value, like JSV_GET_AS_CHAR_ARRAY (Storage.write, crypto.SHA1). */
export function rawBytes(v, mkErr, warn) {
  if (v === undefined) throw mkErr("Error", "Can't get pointer to data to write");
  if (v === null) throw mkErr("TypeError", "Expecting Number or iterable, got null");
  if (typeof v === "string") return strToBuf(v, warn);
  if (typeof v === "number") return Buffer.from([v & 255]);
  if (typeof v === "boolean") return Buffer.from([v ? 1 : 0]);
  if (isAB(v)) return Buffer.from(new Uint8Array(v));
  if (isView(v)) return Buffer.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  return Buffer.from(iterBytes(v));
}

/** Bytes by iterating values (jsvIterateCallback): E.toString, E.toUint8Array, E.CRC32, btoa. */
export function iterBytes(v, out = [], warn) {
  if (v === undefined || v === null) return out;
  if (typeof v === "number") out.push(v & 255);
  else if (typeof v === "boolean") out.push(v ? 1 : 0);
  else if (typeof v === "string") {
    for (let i = 0; i < v.length; i++) out.push(v.charCodeAt(i) & 255);
    if (warn && /[^\x00-\xff]/.test(v)) warn("char > 255 in a binary string: low byte used");
  } else if (isAB(v)) for (const b of new Uint8Array(v)) out.push(b);
  else if (isView(v)) for (let i = 0; i < v.length; i++) out.push(v[i] & 255);
  else if (Array.isArray(v)) for (let i = 0; i < v.length; i++) iterBytes(v[i], out, warn);
  else if (typeof v === "object") {
    if ("callback" in v && typeof v.callback === "function") iterBytes(v.callback(), out, warn);
    else if ("data" in v) for (let n = v.count | 0, i = 0; i < n; i++) iterBytes(v.data, out, warn);
  }
  return out;
}

let crcTable;
/** Standard CRC-32 (0xEDB88320), unsigned, as E.CRC32 returns on 2v29. */
export function crc32(bytes) {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = -1;
  for (const b of bytes) c = crcTable[(c ^ b) & 255] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
