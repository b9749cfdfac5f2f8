// JSON text from the wire, for runtimes without Unicode strings (every board build).
// There a string is bytes, and sprat keeps text as UTF-8 bytes. JSON.parse would turn
// "\u00e9" into the single char 0xE9, which is not UTF-8, so escapes of U+0080 and up
// become their UTF-8 bytes first (a lone surrogate becomes U+FFFD). (Espruino's indexOf may
// match falsely near the end of a string: such a match has no 4 hex digits, and is copied.)

/** The n hex digits at i as a number, or -1 (parseInt alone would take "0e9z" as 0xe9). */
export function hexAt(s: string, i: number, n: number): number {
  var x = s.substr(i, n);
  return x.length == n && /^[0-9a-fA-F]+$/.test(x) ? parseInt(x, 16) : -1;
}

// UTF-8 of code point c >= 0x80: continuation bytes while c does not fit the lead byte's bits (m)
function bytes(c: number): string {
  for (var r = "", m = 63; c > m; c >>= 6, m >>= 1) r = String.fromCharCode(0x80 | c & 63) + r;
  return String.fromCharCode(~m << 1 & 255 | c) + r;
}

// raw: the other direction, for JSON.stringify's output on board builds, where a byte >= 0x80
// of a UTF-8 string comes out as \u00XX: each such escape becomes its byte again.
export function utf8Escapes(s: string, raw?: any): string {
  var o = "", i = 0, j: number, k: number, c: number, d: number;
  while ((j = s.indexOf(raw ? "\\u00" : "\\u", i)) >= 0) {
    for (k = j; k > 0 && s.charAt(k - 1) == "\\"; k--);
    c = hexAt(s, j + 2, 4);
    // an escaped backslash before "u", a malformed escape (JSON.parse rejects it) or ASCII
    if ((j - k) % 2 || c < 128) { o += s.substring(i, j + 2); i = j + 2; continue; }
    o += s.substring(i, j);
    i = j + 6;
    if (raw) { o += String.fromCharCode(c); continue; }
    if (c >= 0xd800 && c < 0xe000) {
      d = c < 0xdc00 && s.substr(i, 2) == "\\u" ? hexAt(s, i + 2, 4) : -1;
      if (d >= 0xdc00 && d < 0xe000) { c = 0x10000 + (c - 0xd800) * 1024 + d - 0xdc00; i += 6; }
      else c = 0xfffd;
    }
    o += bytes(c);
  }
  return i ? o + s.substr(i) : s;
}
