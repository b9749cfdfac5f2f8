// RFC 6455 frame codec, server side, over binary strings.
import { utf8 } from "./utf8";
import { sha1, b64 } from "./sha1";

// Espruino globals, only feature-detected (declared here too so the file also compiles alone)
declare var E: any;
declare function require(name: string): any;

export var GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// x: what push() was given with the handler (the server's socket), passed on.
export interface WsHandler {
  // data message content (unmasked binary string); op: 1 text, 2 binary.
  // Buffered mode (max > 0): once per message, fin = true.
  // Streaming mode (max == 0): per piece; fin = true on the last (maybe empty) piece.
  msg(x: any, op: number, data: string, fin: boolean): void;
  // complete control frame: 8 close (already validated), 9 ping, 10 pong
  c(x: any, op: number, payload: string): void;
}

// Native SHA1, detected on first use: 0 = not yet, 1 = none, else crypto.SHA1.
var _sha: any = 0;

export function acceptKey(key: string): string {
  var s = key + GUID;
  if (!_sha) {
    _sha = 1;
    // boards built without crypto throw on require("crypto")
    try {
      if (typeof E != "undefined" && typeof btoa != "undefined") _sha = require("crypto").SHA1 || 1;
    } catch (e) { }
  }
  // Espruino's btoa takes the ArrayBuffer SHA1 returns
  return _sha != 1 ? btoa(_sha(s)) : (typeof btoa != "undefined" ? btoa : b64)(sha1(s));
}

// Sec-WebSocket-Key: base64 of 16 bytes = 22 alphabet chars + "==".
export function validKey(k: string): boolean {
  return !!k && k.length == 24 && /^[A-Za-z0-9+\/]+==$/.test(k);
}

// Server -> client frame header (servers never mask).
export function header(op: number, len: number, fin: boolean): string {
  if (fin) op |= 128;
  if (len < 126) return String.fromCharCode(op, len);
  // n-byte big-endian extended length; % and / stay exact beyond 2^32, bit operations do not
  for (var n = len < 65536 ? 2 : 8, x = ""; n--; len = (len - len % 256) / 256) x = String.fromCharCode(len % 256) + x;
  return String.fromCharCode(op, x.length > 2 ? 127 : 126) + x;
}

// Close frame with code and (UTF-8) reason; no code -> empty payload.
export function closeFrame(code?: number, reason?: string): string {
  var p = "", n = 123;
  if (code) {
    p = reason || "";
    // at most 123 bytes, cut on a character boundary so the peer does not see invalid UTF-8
    while ((p.charCodeAt(n) & 0xc0) == 0x80) n--;
    p = String.fromCharCode(code >> 8, code & 255) + p.substr(0, n);
  }
  return header(8, p.length, true) + p;
}

// Codes a peer may send (RFC 6455 §7.4, IANA registry, Autobahn 7.7/7.9):
// 1004-1006 and 1015 are reserved, 1016-2999 unassigned.
export function validCode(c: number): boolean {
  return c >= 1000 && c <= 1014 && (c < 1004 || c > 1006) || c >= 3000 && c <= 4999;
}

// XOR with the 4-byte mask key: byte i of d with key byte i & 3 (a reader in the middle of a
// frame passes the key rotated to its position).
export function unmask(d: string, key: string): string {
  var n = d.length, i = 0, j = 0, a: any, u: any, m: number, r = "";
  if (typeof E != "undefined" && E.toUint8Array) {
    // Espruino: per-byte string building is slow; XOR 32-bit words in place
    // (E.toUint8Array gives a fresh buffer at offset 0; Espruino is little-endian)
    u = E.toUint8Array(d);
    a = new Uint32Array(u.buffer, 0, n >> 2);
    m = new Uint32Array(E.toUint8Array(key).buffer)[0];
    // (counting down: fewer operations per word for an interpreter)
    for (i = j = a.length; i--;) a[i] ^= m;
    for (i = j * 4; i < n; i++) u[i] ^= key.charCodeAt(i & 3);
    return E.toString(u);
  }
  a = [];
  while (i < n) {
    a[j++] = d.charCodeAt(i) ^ key.charCodeAt(i++ & 3);
    // fromCharCode.apply in chunks: engines cap the argument count
    if (j > 4095 || i == n) {
      r += String.fromCharCode.apply(null, a);
      a = [];
      j = 0;
    }
  }
  return r;
}

// Incremental parser of client -> server frames. max > 0: buffer whole
// messages up to max bytes; max == 0: stream pieces. lim: max frame payload.
// State (one object per connection, no closures). A property exists only while it is not
// 0/"": on Espruino each one costs a JsVar, and an idle client then holds just _m.
// _x  a close code once failed, -1 once a close frame was delivered
// _h  header bytes so far; during a control frame, its payload so far
// _k  mask key for the frame's next byte (absent while reading a header), _f first header byte
// _l  payload bytes left in the frame
// _o  opcode of the open message, _u its UTF-8 state, _b its buffer
// _g  any of _x, _k, _h, _o is set, or _s (small limits): no fast path (one look-up, not five)
export function WsReader(this: any, max: number, lim?: number) {
  if (max) this._m = max;
  if (lim) this._L = lim;
  // limits a 7-bit length can exceed: the fast path, which does not check them, never runs
  if (max && max < 126 || lim && lim < 126) this._g = this._s = 1;
}

// Espruino: E.toArrayBuffer(s) is a writable view of s itself, no copy (jsvNewArrayBufferFromString);
// the emulator's is a copy, and other engines have no E.
var Z = typeof E != "undefined" && E.toArrayBuffer && (function (s: string) {
  new Uint8Array(E.toArrayBuffer(s))[0] = 1;
  return s.charCodeAt(0);
})(String.fromCharCode(0));

// Espruino runs the source text itself: every statement passed over, a skipped branch or the
// rest of a function after a return, costs lexing time (~14 µs per KB). So the per-message
// path is this short function; the general reader (read, below) is only called for the rest.
// Fast path, the usual message: whole masked FIN text/binary frames with a 7-bit length at the
// start of d, no message open, within the limits (anything else, errors included, is left to
// read). Espruino: XOR 32-bit words in place, the key being the first word of the view; a 1-3
// byte tail is XORed through the frame's last word with the key moved over the tail bytes only.
// ORing the results (o) tells whether any byte is not ASCII: only then does text need the JS
// validator. d is consumed: on Espruino its bytes may be overwritten.
// (push() reads _g for every chunk: absent, Espruino would search its built-ins for it too)
WsReader.prototype._g = 0;
WsReader.prototype.push = function (this: any, d: string, hd: WsHandler, x?: any): number {
  // (Espruino finds a variable by walking the function's list of them: the loops' come first)
  var j: number, o: number, a: any, m: number, l: number, i: number, b: number, e: number, p: string, n = d.length;
  for (i = 0; ;) {
    if (!this._g)
      while ((b = d.charCodeAt(i)) > 128 && b < 131 && (l = d.charCodeAt(i + 1) - 128) >= 0 && l < 126 && (e = i + 6 + l) <= n) {
        if (Z && e < 65536) { // (a typed array's byteOffset is at most 65535)
          a = new Uint32Array(E.toArrayBuffer(d), i + 2, l + 4 >> 2);
          for (j = a.length, m = a[0], o = 0; --j;) o |= a[j] ^= m;
          if (j = l & 3) o |= (new Uint32Array(a.buffer, e - 4, 1)[0] ^= m << 32 - 8 * j) >>> 32 - 8 * j;
          p = d.substr(i + 6, l);
        } else {
          p = unmask(d.substr(i + 6, l), d.substr(i + 2, 4));
          o = -1;
        }
        if (b & 1 && o & 0x80808080 && utf8(0, p, 0, l)) return this._g = this._x = 1007;
        hd.msg(x, b & 15, p, true);
        if ((i = e) >= n) return 0;
      }
    if (i >= n || this._x) return this._x > 0 ? this._x : 0;
    i = read(this, d, i, hd, x);
    // _g: the general reader left state behind (see WsReader), the fast path must not run
    if (this._k || this._h || this._o || this._x || this._s) this._g = 1;
    else delete this._g;
  }
};

// The general reader t, from d's byte i on, until a frame ends with no message open (the fast
// path may take the next ones) or d ends; returns where it stopped, a failure is left in _x.
function read(t: any, d: string, i: number, hd: WsHandler, x: any): number {
  var n = d.length, h: string, b: number, op: number, l: number, j: number, p: string, e: number;
  for (;;) {
    if (t._x) return n;
    if (!t._k) {
      if (i >= n) return n;
      h = t._h || "";
      j = h.length;
      h += d.substr(i, 14 - j);
      if (h.length < 2) { t._h = h; return n; }
      b = h.charCodeAt(0);
      op = b & 15;
      l = h.charCodeAt(1);
      // RSV bits, unmasked, unknown opcode, bad control frame, bad fragment order
      if (b & 0x70 || l < 128 || (op & 8 ? op > 10 || b < 128 || l > 253 : op > 2 || !op == !t._o))
        return t._x = 1002;
      l &= 127;
      e = l < 126 ? 2 : l < 127 ? 4 : 10;
      if (h.length < e + 4) { t._h = h; return n; }
      i += e + 4 - j;
      for (j = 2, l > 125 && (l = 0); j < e; j++) l = l * 256 + h.charCodeAt(j);
      // 2^53 and above (a 64-bit length with its high word over 0x1FFFFF) is no exact
      // number any more: too big whatever the limits
      if (l > 9007199254740991 || t._L && l > t._L || t._m && op < 8 && (t._b || "").length + l > t._m) return t._x = 1009;
      t._k = h.substr(e, 4);
      delete t._h;
      t._f = b;
      t._l = l;
      if (op && op < 3) t._o = op;
    }
    // payload (possibly none) of the current frame
    l = t._l < n - i ? t._l : n - i;
    p = l ? unmask(i || l < n ? d.substr(i, l) : d, t._k) : "";
    i += l;
    b = t._f;
    // more to come: the key turned to go with the next byte (no mask position to keep);
    // else back to reading a header, with no per-frame state left
    if (t._l -= l) t._k = (t._k + t._k).substr(l & 3, 4);
    else { delete t._k; delete t._f; delete t._l; }
    op = b & 15;
    e = t._k ? 0 : b & 128; // frame done and FIN: message complete
    if (op & 8) {
      if (p) t._h = (t._h || "") + p;
      if (t._k) return n;
      p = t._h || "";
      delete t._h;
      if (op == 8) {
        l = p.length;
        if (l == 1 || l && !validCode(p.charCodeAt(0) << 8 | p.charCodeAt(1))) return t._x = 1002;
        if (utf8(0, p, 2, l)) return t._x = 1007;
        t._x = -1;   // later bytes are ignored
      }
      hd.c(x, op, p);
    } else {
      if (t._o == 1 && l && (t._u = utf8(t._u || 0, p, 0, l)) < 0 || e && t._u) return t._x = 1007;
      op = t._o;
      if (e) { delete t._o; delete t._u; }
      if (t._m) {
        // buffered: the whole message on its last frame, nothing before
        p = (t._b || "") + p;
        delete t._b;
        if (!e) { if (p) t._b = p; l = 0; }
      }
      if (l || e) hd.msg(x, op, p, !!e);
    }
    if (t._k) return n;   // all of d was payload of an unfinished frame
    if (!t._o) return i;
  }
}
