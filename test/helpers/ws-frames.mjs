// WebSocket frames for sprat's conformance tests (test/ws.test.mjs), written by hand so
// that the tests can send anything, including frames no WebSocket library would produce.
//
//   encode(op, payload, opts) → Buffer: one client → server frame, masked by default.
//     payload: Buffer | Uint8Array | string (UTF-8).
//     opts: fin (true), rsv (0..7: RSV1 = 4, RSV2 = 2, RSV3 = 1), mask (true),
//           key (4-byte Buffer; random by default), len (the declared payload length,
//           default payload.length: to declare more than is sent), lenBytes (0/2/8: force
//           the 7-bit, 16-bit or 64-bit length form).
//   text / binary / cont / ping / pong (payload, opts), close(code?, reason?, opts)
//   closePayload(code, reason) → Buffer
//   FrameDecoder: incremental decoder of server → client frames: push(buf) → frames
//     completed by these bytes, each { fin, rsv, op, masked, len, payload (Buffer) }.
//     Never throws on a weird frame: the tests check what the server sent.
//   splitAt(buf, sizes) → Buffers: buf cut into consecutive pieces of those sizes (the
//     last piece takes the rest).
import crypto from "node:crypto";

export const OP = { cont: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 };

const bytes = (p) => (p === undefined ? Buffer.alloc(0) : typeof p === "string" ? Buffer.from(p, "utf8")
  : Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength));

/** XOR with the 4-byte key, the key position starting at `pos`. */
export function mask(data, key, pos = 0) {
  const out = Buffer.allocUnsafe(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] ^ key[(i + pos) & 3];
  return out;
}

export function encode(op, payload, { fin = true, rsv = 0, mask: masked = true, key, len, lenBytes } = {}) {
  const p = bytes(payload);
  const n = len === undefined ? p.length : len;
  const form = lenBytes !== undefined ? lenBytes : n < 126 ? 0 : n < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + form + (masked ? 4 : 0));
  head[0] = (fin ? 0x80 : 0) | (rsv & 7) << 4 | op & 15;
  head[1] = (masked ? 0x80 : 0) | (form === 0 ? n : form === 2 ? 126 : 127);
  if (form === 2) head.writeUInt16BE(n, 2);
  if (form === 8) head.writeBigUInt64BE(BigInt(n), 2);
  if (!masked) return Buffer.concat([head, p]);
  const k = key || crypto.randomBytes(4);
  k.copy(head, 2 + form);
  return Buffer.concat([head, mask(p, k)]);
}

export const text = (p, o) => encode(OP.text, p, o);
export const binary = (p, o) => encode(OP.binary, p, o);
export const cont = (p, o) => encode(OP.cont, p, o);
export const ping = (p, o) => encode(OP.ping, p, o);
export const pong = (p, o) => encode(OP.pong, p, o);

/** Close payload: 2-byte code (none if code is undefined) + reason (string → UTF-8, or bytes). */
export function closePayload(code, reason) {
  if (code === undefined) return Buffer.alloc(0);
  const c = Buffer.alloc(2);
  c.writeUInt16BE(code);
  return Buffer.concat([c, bytes(reason)]);
}
export const close = (code, reason, o) => encode(OP.close, closePayload(code, reason), o);

/** Incremental decoder of (unmasked, server → client) frames; O(n) for big frames. */
export class FrameDecoder {
  constructor() { this.chunks = []; this.avail = 0; this.need = 2; this.frames = 0; }
  push(data) {
    if (data.length) { this.chunks.push(Buffer.from(data)); this.avail += data.length; }
    const out = [];
    while (this.avail >= this.need) {
      const b = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
      this.chunks = [b];
      const masked = !!(b[1] & 0x80);
      let len = b[1] & 127, at = 2;
      if (len === 126) { if (b.length < 4) { this.need = 4; continue; } len = b.readUInt16BE(2); at = 4; }
      else if (len === 127) { if (b.length < 10) { this.need = 10; continue; } len = Number(b.readBigUInt64BE(2)); at = 10; }
      const keyAt = at;
      if (masked) at += 4;
      if (b.length < at + len) { this.need = at + len; continue; }
      let payload = b.subarray(at, at + len);
      if (masked) payload = mask(payload, b.subarray(keyAt, keyAt + 4));
      out.push({ fin: !!(b[0] & 0x80), rsv: b[0] >> 4 & 7, op: b[0] & 15, masked, len, payload: Buffer.from(payload) });
      const rest = b.subarray(at + len);
      this.chunks = rest.length ? [rest] : [];
      this.avail = rest.length;
      this.need = 2;
      this.frames++;
    }
    return out;
  }
}

export function splitAt(buf, sizes) {
  const out = [];
  let at = 0;
  for (const n of sizes) {
    if (at >= buf.length) break;
    out.push(buf.subarray(at, at + n));
    at += n;
  }
  if (at < buf.length) out.push(buf.subarray(at));
  return out.filter((b) => b.length);
}

/** A close frame's payload → { code (undefined if empty), reason (Buffer) }. */
export function parseClose(payload) {
  return payload.length >= 2 ? { code: payload.readUInt16BE(0), reason: payload.subarray(2) } : { code: undefined, reason: Buffer.alloc(0) };
}
