// Fallbacks for boards without require("crypto") / btoa. Only the WebSocket
// handshake uses them, so they are small rather than fast.

var B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// SHA-1 of a binary string -> 20-byte binary string.
// No Math.imul on Espruino: sums stay below 2^53 and are wrapped with |0.
export function sha1(s: string): string {
  var n = s.length, h = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0],
    w: number[] = [], r = "", v: number[], i: number, j: number, k: number, t: number, b: number, c: number, d: number;
  s += "\x80";
  while (s.length % 64 != 56) s += "\0";
  // 64-bit big-endian bit length (inputs < 512 MB)
  s += "\0\0\0" + String.fromCharCode(n >>> 29, n >> 21 & 255, n >> 13 & 255, n >> 5 & 255, n << 3 & 255);
  for (i = 0; i < s.length; i += 64) {
    v = h.slice(0); // a, b, c, d, e
    for (j = 0; j < 80; j++) {
      // the schedule in a 16-word ring instead of 80 words: fewer JsVars
      if (j < 16) for (t = k = 0; k < 4; k++) t = t << 8 | s.charCodeAt(i + j * 4 + k);
      else {
        t = w[(j + 13) & 15] ^ w[(j + 8) & 15] ^ w[(j + 2) & 15] ^ w[j & 15];
        t = t << 1 | t >>> 31;
      }
      w[j & 15] = t;
      b = v[1]; c = v[2]; d = v[3];
      t = ((t = v[0]) << 5 | t >>> 27) + v[4] + w[j & 15] + K[j / 20 | 0] +
        (j < 20 ? b & c | ~b & d : j > 39 && j < 60 ? b & c | b & d | c & d : b ^ c ^ d) | 0;
      // e = d, d = c, c = b <<< 30, b = a, a = t
      v.pop();
      v.unshift(t);
      v[2] = b << 30 | b >>> 2;
    }
    for (j = 0; j < 5; j++) h[j] = h[j] + v[j] | 0;
  }
  for (i = 0; i < 20; i++) r += String.fromCharCode(h[i >> 2] >> (24 - (i & 3) * 8) & 255);
  return r;
}

// round constants, as int32
var K = [0x5a827999, 0x6ed9eba1, 0x8f1bbcdc | 0, 0xca62c1d6 | 0];

// base64 of a binary string (btoa for runtimes without it).
export function b64(s: string): string {
  var r = "", n = s.length, i = 0, c: number;
  for (; i < n; i += 3) {
    c = s.charCodeAt(i) << 16 | (i + 1 < n ? s.charCodeAt(i + 1) << 8 : 0) | (i + 2 < n ? s.charCodeAt(i + 2) : 0);
    r += B64.charAt(c >> 18) + B64.charAt(c >> 12 & 63) +
      (i + 1 < n ? B64.charAt(c >> 6 & 63) : "=") + (i + 2 < n ? B64.charAt(c & 63) : "=");
  }
  return r;
}
