// UTF-8 over binary strings (one char per byte).

// Espruino's E, only feature-detected (declared here too so the file also compiles alone)
declare var E: any;

// Incremental validator. state 0 = at a character boundary; otherwise
// lo<<16 | hi<<8 | n: n continuation bytes still due, the next one in lo..hi
// (only the first continuation has a narrower range: that is what rules out
// overlongs, surrogates and code points above U+10FFFF as early as possible).
// Returns the new state, or -1 as soon as a byte makes the input invalid.
export function utf8(st: number, s: string, i: number, to: number): number {
  var c = 0, n = st & 3, lo = st >> 16, hi = st >> 8 & 255,
    b: any = typeof E != "undefined" && E.sum && to - i > 15 && E.toArrayBuffer(s);
  for (;;) {
    for (; n; n--) {
      if (i >= to) return lo << 16 | hi << 8 | n;
      c = s.charCodeAt(i++);
      if (c < lo || c > hi) return -1;
      lo = 0x80;
      hi = 0xbf;
    }
    // ASCII fast path (most payloads are ASCII JSON). On Espruino a range is
    // ASCII iff its bytes sum the same as Uint8 and as Int8: two native sums
    // instead of a slow JS loop. All the rest is tried first (usually it is all
    // ASCII); else halving, then doubling block sizes find the next non-ASCII byte.
    if (b && s.charCodeAt(i) < 128) for (n = to - i; n > 15;) {
      if (n > to - i) n = to - i;
      if (n > 15 && E.sum(new Uint8Array(b, i, n)) == E.sum(new Int8Array(b, i, n))) i += n, n *= 2;
      else n >>= 1;
    }
    while (i < to && (c = s.charCodeAt(i)) < 128) i++;
    if (i >= to) return 0;
    i++;
    if (c < 0xc2 || c > 0xf4) return -1;
    n = c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;
    lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
  }
}

// JS string (any code points, surrogate pairs) -> UTF-8 binary string.
// Lone surrogates become U+FFFD, as TextEncoder does.
export function utf8Encode(s: string): string {
  var r = "", n = s.length, i = 0, j = 0, c: number, d: number;
  // Espruino Unicode builds (Bangle.js, Linux) keep such strings as UTF-8 already
  if (typeof E != "undefined" && E.isUTF8 && E.isUTF8(s)) return E.fromUTF8(s);
  for (; i < n; i++) {
    c = s.charCodeAt(i);
    if (c < 128) continue;
    r += s.substring(j, i);
    if (c < 0x800) r += String.fromCharCode(0xc0 | c >> 6, 0x80 | c & 63);
    else if (c >= 0xd800 && c < 0xdc00 && (d = s.charCodeAt(i + 1)) >= 0xdc00 && d < 0xe000) {
      c = 0x10000 + (c - 0xd800) * 1024 + d - 0xdc00;
      i++;
      r += String.fromCharCode(0xf0 | c >> 18, 0x80 | c >> 12 & 63, 0x80 | c >> 6 & 63, 0x80 | c & 63);
    } else {
      if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
      r += String.fromCharCode(0xe0 | c >> 12, 0x80 | c >> 6 & 63, 0x80 | c & 63);
    }
    j = i + 1;
  }
  // j == 0: pure ASCII, no copy
  return j ? r + s.substring(j) : s;
}

// Espruino: 1 = Unicode build (E.asUTF8 works), -1 = not, 0 = not checked yet
var _uni = 0;

// UTF-8 binary string (assumed valid) -> JS string.
// Espruino builds without Unicode can't hold chars > 255: those come out mangled.
export function utf8Decode(s: string): string {
  var r = "", n = s.length, i = 0, j = 0, c: number;
  if (typeof E != "undefined") {
    if (!_uni) {
      _uni = -1;
      try { if (E.isUTF8(E.asUTF8("a"))) _uni = 1; } catch (e) { }
    }
    if (_uni > 0) return E.asUTF8(s);
  }
  while (i < n) {
    c = s.charCodeAt(i);
    if (c < 128) { i++; continue; }
    r += s.substring(j, i);
    if (c < 0xe0) c = (c & 31) << 6 | s.charCodeAt(i + 1) & 63, i += 2;
    else if (c < 0xf0) c = (c & 15) << 12 | (s.charCodeAt(i + 1) & 63) << 6 | s.charCodeAt(i + 2) & 63, i += 3;
    else {
      c = ((c & 7) << 18 | (s.charCodeAt(i + 1) & 63) << 12 | (s.charCodeAt(i + 2) & 63) << 6 | s.charCodeAt(i + 3) & 63) - 0x10000;
      i += 4;
      r += String.fromCharCode(0xd800 + (c >> 10));
      c = 0xdc00 + (c & 1023);
    }
    r += String.fromCharCode(c);
    j = i;
  }
  return j ? r + s.substring(j) : s;
}
