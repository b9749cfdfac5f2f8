// Fallbacks for boards without require("crypto") / btoa. Only the WebSocket
// handshake uses them, so they are small rather than fast.

var B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// SHA-1 of a binary string -> 20-byte binary string.
// No Math.imul on Espruino: sums stay below 2^53 and are wrapped with |0.
export function sha1(s: string): string {
  var n = s.length, h = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0],
    w: number[] = [], r = "", i: number, j: number, k: number, t: number,
    a: number, b: number, c: number, d: number, e: number;
  s += "\x80";
  while (s.length % 64 != 56) s += "\0";
  // 64-bit big-endian bit length (inputs < 512 MB)
  s += "\0\0\0" + String.fromCharCode(n >>> 29, n >> 21 & 255, n >> 13 & 255, n >> 5 & 255, n << 3 & 255);
  for (i = 0; i < s.length; i += 64) {
    a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4];
    for (j = 0; j < 80; j++) {
      // 16-word ring instead of an 80-word schedule: fewer JsVars
      if (j < 16) {
        k = i + j * 4;
        w[j] = s.charCodeAt(k) << 24 | s.charCodeAt(k + 1) << 16 | s.charCodeAt(k + 2) << 8 | s.charCodeAt(k + 3);
      } else {
        t = w[(j + 13) & 15] ^ w[(j + 8) & 15] ^ w[(j + 2) & 15] ^ w[j & 15];
        w[j & 15] = t << 1 | t >>> 31;
      }
      t = ((a << 5 | a >>> 27) + e + w[j & 15] + (
        j < 20 ? (b & c | ~b & d) + 0x5a827999
          : j < 40 ? (b ^ c ^ d) + 0x6ed9eba1
            : j < 60 ? (b & c | b & d | c & d) - 0x70e44324
              : (b ^ c ^ d) - 0x359d3e2a)) | 0;
      e = d; d = c; c = b << 30 | b >>> 2; b = a; a = t;
    }
    h[0] = h[0] + a | 0; h[1] = h[1] + b | 0; h[2] = h[2] + c | 0; h[3] = h[3] + d | 0; h[4] = h[4] + e | 0;
  }
  for (i = 0; i < 20; i++) r += String.fromCharCode(h[i >> 2] >> (24 - (i & 3) * 8) & 255);
  return r;
}

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
