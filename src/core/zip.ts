// ZIP central-directory reader over a read(off, len) function (Storage.read is zero-copy).
// Each fixed-size record is copied to RAM ("" + ...) before it is parsed: on Espruino for
// Linux every char read from a Storage string is a file read.
import { hexAt } from "./json";

export type Read = (off: number, len: number) => string;

export interface Entry { m: number; c: number; u: number; crc: number; lh: number; a: number }

export function u16(s: string, i: number): number {
  return s.charCodeAt(i) | s.charCodeAt(i + 1) << 8;
}

export function u32(s: string, i: number): number {
  return (u16(s, i) | u16(s, i + 2) << 16) >>> 0;
}

// path (no leading "/") → offset of its central-directory record, or an error message.
// Look-ups must check `typeof idx[p] == "number"`: inherited names ("constructor") are not.
export function zipIndex(read: Read, size: number): { [path: string]: number } | string {
  var n = size < 65557 ? size : 65557, t = read(size - n, n), e = t.lastIndexOf("PK\x05\x06"), M = 4294967295,
    o: any = {}, cd: string, off: number, sz: number, p = 0, q: number, k: number, nm: string, f: number;
  // the EOCD is the signature whose comment length reaches exactly the end of the file
  // (so n >= 22 once found: bytes past the end read as 0)
  while (e >= 0 && e + 22 + u16(t, e + 20) != n) e = e ? t.lastIndexOf("PK\x05\x06", e - 1) : -1;
  if (e < 0) return "no EOCD";
  k = u16(t, e + 10);
  sz = u32(t, e + 12);
  off = u32(t, e + 16);
  if (k == 65535 || u16(t, e + 8) == 65535 || sz == M || off == M ||
    e >= 20 && t.substr(e - 20, 4) == "PK\x06\x07") return "ZIP64";
  if (u16(t, e + 4) | u16(t, e + 6) || u16(t, e + 8) != k) return "multi-disk";
  if (off + sz > e + size - n) return "truncated";
  cd = read(off, sz);
  for (; k--; p = q) {
    // the record with its name, extra field and comment (past the end reads as 0)
    t = "" + cd.substr(p, 46);
    q = p + 46 + u16(t, 28) + u16(t, 30) + u16(t, 32);
    if (q > sz) return "truncated";
    if (u32(t, 0) != 0x02014b50) return "bad signature";
    nm = "" + cd.substr(p + 46, u16(t, 28));
    f = u16(t, 10);
    if (u16(t, 8) & 1) return "encrypted: " + nm;
    if (f && f != 8) return "method " + f + ": " + nm;
    if (u32(t, 20) == M || u32(t, 24) == M || u32(t, 42) == M) return "ZIP64";
    if (u32(t, 42) + 30 + u32(t, 20) > off) return "truncated";
    if (nm.substr(-1) != "/" && nm != "__proto__") o[nm] = off + p;
  }
  return o;
}

export function zipEntry(read: Read, cd: number): Entry {
  var r = "" + read(cd, 46), c = "" + read(cd + 46 + u16(r, 28) + u16(r, 30), u16(r, 32));
  // sprat's packer stores "a32=" + 8 hex digits (Adler-32 of the data) as the file comment,
  // so a zlib stream can be served without reading the data twice
  return { m: u16(r, 10), c: u32(r, 20), u: u32(r, 24), crc: u32(r, 16), lh: u32(r, 42), a: c.substr(0, 4) == "a32=" ? hexAt(c, 4, 8) : -1 };
}

// Offset of an entry's data. The local header's name and extra lengths may differ from
// the central directory's, so they are read here.
export function zipData(read: Read, lh: number): number {
  var r = "" + read(lh, 30);
  return u32(r, 0) == 0x04034b50 ? lh + 30 + u16(r, 26) + u16(r, 28) : -1;
}
