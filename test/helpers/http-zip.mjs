// ZIP helpers for test/http.test.mjs: an independent ZIP reader (the bytes the device must
// serve, inflated and checked here with Node's zlib), the wire forms the server may send for
// an entry, ETags, and damaged/foreign ZIPs (truncated, ZIP64-marked, encrypted, made by
// Debian's `zip`).
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { spawnSync } from "node:child_process";

const EOCD = 0x06054b50, CEN = 0x02014b50, LOC = 0x04034b50;

/**
 * The entries of a ZIP as Map name → { name, method, flags, crc, csize, usize, comment,
 * adler (from sprat's "a32=" comment, or null), cen (offset of the central record), lh,
 * data (the stored, possibly deflated bytes), content (the file's bytes) }, in central
 * directory order. content is inflated with zlib and checked against the CRC-32 and size of
 * the directory (contents: false skips that, e.g. for an encrypted ZIP).
 */
export function readZip(zip, { contents = true } = {}) {
  const e = zip.lastIndexOf(Buffer.from("PK\x05\x06", "latin1"));
  if (e < 0 || zip.readUInt32LE(e) !== EOCD) throw new Error("readZip: no EOCD");
  const n = zip.readUInt16LE(e + 10), out = new Map();
  let p = zip.readUInt32LE(e + 16);
  for (let i = 0; i < n; i++) {
    if (zip.readUInt32LE(p) !== CEN) throw new Error(`readZip: bad central record at ${p}`);
    const nl = zip.readUInt16LE(p + 28), xl = zip.readUInt16LE(p + 30), cl = zip.readUInt16LE(p + 32);
    const ent = {
      name: zip.toString("latin1", p + 46, p + 46 + nl), // bytes, as the device compares them
      flags: zip.readUInt16LE(p + 8), method: zip.readUInt16LE(p + 10), crc: zip.readUInt32LE(p + 16),
      csize: zip.readUInt32LE(p + 20), usize: zip.readUInt32LE(p + 24), lh: zip.readUInt32LE(p + 42),
      comment: zip.toString("latin1", p + 46 + nl + xl, p + 46 + nl + xl + cl), cen: p,
    };
    const m = /^a32=([0-9a-f]{8})/.exec(ent.comment);
    ent.adler = m ? parseInt(m[1], 16) : null;
    if (zip.readUInt32LE(ent.lh) !== LOC) throw new Error(`readZip: ${ent.name}: bad local header`);
    const d = ent.lh + 30 + zip.readUInt16LE(ent.lh + 26) + zip.readUInt16LE(ent.lh + 28);
    ent.data = zip.subarray(d, d + ent.csize);
    if (contents && !ent.name.endsWith("/")) {
      ent.content = ent.method === 8 ? zlib.inflateRawSync(ent.data) : Buffer.from(ent.data);
      if (ent.content.length !== ent.usize) throw new Error(`readZip: ${ent.name}: size ${ent.content.length} != ${ent.usize}`);
      if ((zlib.crc32(ent.content) >>> 0) !== ent.crc) throw new Error(`readZip: ${ent.name}: CRC mismatch`);
      if (ent.adler !== null && adler32(ent.content) !== ent.adler) throw new Error(`readZip: ${ent.name}: a32= comment is wrong`);
    }
    out.set(ent.name, ent);
    p += 46 + nl + xl + cl;
  }
  return out;
}

export function adler32(buf) {
  let a = 1, b = 0;
  for (const c of buf) { a = (a + c) % 65521; b = (b + a) % 65521; }
  return (b * 65536 + a) >>> 0;
}

const u32be = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; };
const u32le = (n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b; };

/**
 * The exact body the server must send for an entry in a Content-Encoding:
 * "deflate" with an Adler-32 → zlib (RFC 1950): 78 DA + stored data + Adler-32 (big-endian);
 * "deflate" without one → the stored raw deflate data; "gzip" → checked separately (the
 * header's fields are the server's choice), so only its payload and trailer are given here;
 * "" → the stored bytes.
 */
export function wireBody(ent, enc) {
  if (enc === "deflate") return ent.adler === null ? Buffer.from(ent.data) : Buffer.concat([Buffer.from([0x78, 0xda]), ent.data, u32be(ent.adler)]);
  if (enc === "gzip") return Buffer.concat([ent.data, u32le(ent.crc), u32le(ent.usize)]);
  return Buffer.from(ent.data);
}

/** The strong ETag static.ts documents: CRC-32 and size (8 hex digits each) + encoding's initial. */
export function etagFor(ent, enc) {
  const h = (n) => n.toString(16).padStart(8, "0");
  return `"${h(ent.crc)}${h(ent.usize)}${enc ? enc[0] : ""}"`;
}

/** The ZIP with its last `n` bytes cut off (an interrupted upload): no end record. */
export function truncateTail(zip, n) {
  return zip.subarray(0, zip.length - n);
}

/** The ZIP with its first `n` bytes lost: the end record's offsets point past the data. */
export function truncateHead(zip, n) {
  return zip.subarray(n);
}

/** A copy of the ZIP whose end record says "see the ZIP64 record" (entry count 0xFFFF). */
export function markZip64(zip) {
  const z = Buffer.from(zip), e = z.lastIndexOf(Buffer.from("PK\x05\x06", "latin1"));
  z.writeUInt16LE(0xffff, e + 8);
  z.writeUInt16LE(0xffff, e + 10);
  return z;
}

/** A copy of the ZIP with the "encrypted" flag (bit 0) set on one entry's central record. */
export function markEncrypted(zip, name) {
  const z = Buffer.from(zip), ent = readZip(zip).get(name);
  if (!ent) throw new Error(`markEncrypted: no ${name}`);
  z.writeUInt16LE(z.readUInt16LE(ent.cen + 8) | 1, ent.cen + 8);
  z.writeUInt16LE(z.readUInt16LE(ent.lh + 6) | 1, ent.lh + 6);
  return z;
}

/** Is Debian's `zip` on PATH? */
export function haveZipCli() {
  const r = spawnSync("zip", ["-v"], { encoding: "utf8" });
  return !r.error && r.status === 0;
}

/**
 * Zips `dir`'s contents (recursively, relative names) with `zip` and extra args
 * (e.g. ["-9", "-X"]); returns the ZIP bytes.
 */
export function zipCli(dir, args, tmpDir) {
  const out = path.join(tmpDir, `cli-${process.pid}-${Math.random().toString(36).slice(2)}.zip`);
  const r = spawnSync("zip", ["-q", "-r", ...args, out, "."], { cwd: dir, encoding: "utf8" });
  if (r.error || r.status !== 0) throw new Error(`zip ${args.join(" ")} failed: ${r.error || r.stderr}`);
  const buf = fs.readFileSync(out);
  fs.rmSync(out, { force: true });
  return buf;
}
