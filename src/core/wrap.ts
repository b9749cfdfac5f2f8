// gzip (RFC 1952) and zlib (RFC 1950) framing around raw deflate data taken from a ZIP,
// plus the checksums they need.

function le32(n: number): string {
  return String.fromCharCode(n & 255, n >>> 8 & 255, n >>> 16 & 255, n >>> 24);
}

// mtime 0 (none), XFL 0 (the compressor is unknown: the data may come from any ZIP tool),
// OS 255 "unknown": the bytes were made on a build machine, not on this device.
export function gzipHead(): string {
  return "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff";
}

export function gzipTail(crc: number, size: number): string {
  return le32(crc) + le32(size);
}

// CMF 0x78: deflate with a 32K window (what ZIP deflate may use); FLG 0xda: level 9,
// FCHECK so that 0x78da % 31 == 0.
export function zlibHead(): string {
  return "\x78\xda";
}

export function zlibTail(adler: number): string {
  return String.fromCharCode(adler >>> 24, adler >>> 16 & 255, adler >>> 8 & 255, adler & 255);
}

// Bitwise CRC-32: a 256-entry table would cost hundreds of JsVars. -306674912 is the
// reflected polynomial 0xEDB88320 as an int32 (Espruino is unreliable with bit operations
// on numbers above 2^31). Pass a previous result to continue it.
export function crc32(s: string, c?: number): number {
  c = ~(c || 0);
  for (var i = 0, k: number; i < s.length; i++) {
    c ^= s.charCodeAt(i);
    for (k = 0; k < 8; k++) c = c >>> 1 ^ -306674912 & -(c & 1);
  }
  return ~c >>> 0;
}

// One-shot CRC-32, native where there is one. E.CRC32 returns an unsigned number on
// current firmware; >>> 0 keeps it so on builds that return an int32.
export function crc(s: string): number {
  return typeof E != "undefined" && E.CRC32 ? E.CRC32(s) >>> 0 : crc32(s);
}

// Adler-32, incremental. The modulo runs every 3800 bytes so that the sums stay below
// 2^31 (65520 * 3801 + 255 * 3800 * 3801 / 2 < 2^31): no int32 overflow on any engine.
export function adler32(s: string, a?: number): number {
  var x = a == null ? 1 : a, p = x & 65535, q = x >>> 16, i = 0, n: number;
  while (i < s.length) {
    for (n = i + 3800; i < n && i < s.length; i++) q += p += s.charCodeAt(i);
    p %= 65521;
    q %= 65521;
  }
  return q * 65536 + p;
}
