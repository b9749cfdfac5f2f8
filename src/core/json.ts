// JSON text from the wire, for runtimes without Unicode strings (every board build).
// There a string is bytes, and sprat keeps text as UTF-8 bytes. JSON.parse would turn
// "\u00e9" into the single char 0xE9, which is not UTF-8, so escapes of U+0080 and up
// become their UTF-8 bytes first (a lone surrogate becomes U+FFFD).

function hex4(s: string, i: number): number {
  var v = parseInt(s.substr(i, 4), 16);
  return s.substr(i, 4).length == 4 && v === v ? v : -1;
}

function bytes(c: number): string {
  var f = String.fromCharCode;
  return c < 0x800 ? f(0xc0 | c >> 6, 0x80 | c & 63)
    : c < 0x10000 ? f(0xe0 | c >> 12, 0x80 | c >> 6 & 63, 0x80 | c & 63)
    : f(0xf0 | c >> 18, 0x80 | c >> 12 & 63, 0x80 | c >> 6 & 63, 0x80 | c & 63);
}

export function utf8Escapes(s: string): string {
  var o = "", i = 0, j: number, k: number, c: number, d: number;
  while ((j = s.indexOf("\\u", i)) >= 0) {
    for (k = j; k > 0 && s.charAt(k - 1) == "\\"; k--);
    c = hex4(s, j + 2);
    // an escaped backslash before "u", a malformed escape (JSON.parse rejects it) or ASCII
    if ((j - k) % 2 || c < 128) { o += s.substring(i, j + 2); i = j + 2; continue; }
    o += s.substring(i, j);
    i = j + 6;
    if (c >= 0xd800 && c < 0xe000) {
      d = c < 0xdc00 && s.substr(i, 2) == "\\u" ? hex4(s, i + 2) : -1;
      if (d >= 0xdc00 && d < 0xe000) { c = 0x10000 + (c - 0xd800) * 1024 + d - 0xdc00; i += 6; }
      else c = 0xfffd;
    }
    o += bytes(c);
  }
  return i ? o + s.substr(i) : s;
}
