// src/core/zip.ts, src/core/wrap.ts and tools/pack-web.mjs: the plain-data vectors
// (test/vectors/zip.json), ZIPs made by jszip and Info-ZIP, broken ZIPs, gzip/zlib framing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdtempSync, mkdirSync, rmSync, readdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import zlib from "node:zlib";
import fc from "fast-check";
import JSZip from "jszip";
import { zipIndex, zipEntry, zipData, u16, u32 } from "../src/core/zip.ts";
import { gzipHead, gzipTail, zlibHead, zlibTail, crc32, crc, adler32 } from "../src/core/wrap.ts";
import { packDir, checkName, minifyCss, minifyHtml } from "../tools/pack-web.mjs";

const V = JSON.parse(readFileSync(new URL("./vectors/zip.json", import.meta.url), "utf8"));
const reader = (b: Buffer) => (o: number, l: number) => b.toString("latin1", o, o + l);
const L1 = (s: string) => Buffer.from(s, "latin1");
const bin = (s: string) => s; // binary strings pass through
const zref = (b: Buffer) => zlib.deflateSync(b).readUInt32BE(zlib.deflateSync(b).length - 4); // Adler-32 from zlib's trailer

// Every file of an index, inflated, as { path: binary string }; checks CRC and adler too.
function extract(z: Buffer) {
  const rd = reader(z), idx = zipIndex(rd, z.length);
  assert.equal(typeof idx, "object", String(idx));
  const out: Record<string, string> = {};
  for (const [p, cd] of Object.entries(idx as Record<string, number>)) {
    const e = zipEntry(rd, cd), d = zipData(rd, e.lh);
    assert.ok(d > 0);
    const raw = z.subarray(d, d + e.c);
    const data = e.m === 8 ? zlib.inflateRawSync(raw) : raw;
    assert.equal(data.length, e.u);
    assert.equal(crc32(data.toString("latin1")), e.crc, p);
    if (e.a !== -1) assert.equal(e.a, zref(data), p);
    out[p] = data.toString("latin1");
  }
  return out;
}

function tmp() { return mkdtempSync(join(tmpdir(), "sprat-zip-")); }

test("vectors: zip.json", () => {
  for (const c of V.cases) {
    const z = Buffer.from(c.hex, "hex"), rd = reader(z), idx = zipIndex(rd, z.length);
    if (c.error) { assert.equal(idx, c.error, c.name); continue; }
    assert.deepEqual(idx, c.index, c.name);
    for (const [p, want] of Object.entries(c.entries as Record<string, any>)) {
      const e = zipEntry(rd, c.index[p]);
      assert.deepEqual({ ...e, data: zipData(rd, e.lh) }, want, `${c.name}: ${p}`);
    }
    assert.deepEqual(extract(z), c.files, c.name);
  }
});

test("u16/u32", () => {
  assert.equal(u16("\x34\x12", 0), 0x1234);
  assert.equal(u32("\xff\xff\xff\xff", 0), 0xffffffff);
  assert.equal(u32("\x00\x01\x02\x83", 0), 0x83020100);
});

const fname = fc.array(fc.stringMatching(/^[a-z0-9_.-]{1,8}$/).filter((s) => s !== "." && s !== ".."), { minLength: 1, maxLength: 3 }).map((a) => a.join("/"));
const content = fc.oneof(fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
  fc.string({ maxLength: 50 }).map((s) => Buffer.from(s.repeat(1 + (s.length % 7)))));

test("property: jszip ZIPs (stored/deflate, any ZIP comment) index and inflate back", async () => {
  await fc.assert(fc.asyncProperty(
    fc.uniqueArray(fc.tuple(fname, content, fc.boolean()), { minLength: 1, maxLength: 6, selector: (x) => x[0] })
      .filter((a) => a.every(([n]) => !a.some(([m]) => m.startsWith(n + "/")))),
    fc.option(fc.string({ maxLength: 40 }).map((s) => s + "PK\x05\x06")), fc.boolean(),
    async (files, comment, folders) => {
      const j = new JSZip();
      for (const [n, d, defl] of files) j.file(n, d, { compression: defl ? "DEFLATE" : "STORE", createFolders: folders });
      const z = await j.generateAsync({ type: "nodebuffer", comment: comment ?? undefined });
      const want: Record<string, string> = {};
      for (const [n, d] of files) want[n] = d.toString("latin1");
      assert.deepEqual(extract(z), want);
    }), { numRuns: 60 });
});

test("Info-ZIP: recursive with directories, stored, with archive comment, without extras", () => {
  const d = tmp();
  try {
    mkdirSync(join(d, "w/sub/deep"), { recursive: true });
    const files: Record<string, Buffer> = {
      "w/index.html": Buffer.from("<p>hello</p>".repeat(50)), "w/empty.txt": Buffer.alloc(0),
      "w/sub/r.bin": Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 251)), "w/sub/deep/x.js": Buffer.from("let x = 1;\n"),
    };
    for (const [n, b] of Object.entries(files)) writeFileSync(join(d, n), b);
    const want = Object.fromEntries(Object.entries(files).map(([n, b]) => [n, b.toString("latin1")]));
    for (const args of [["-r"], ["-r", "-0"], ["-r", "-X", "-9"], ["-r", "-z"]]) {
      rmSync(join(d, "o.zip"), { force: true });
      // only -z reads stdin (the archive comment); zip exits before reading it otherwise (EPIPE)
      execFileSync("zip", ["-q", ...args, "o.zip", "w"], { cwd: d, ...(args.includes("-z") ? { input: "an archive comment\nPK\x05\x06\n.\n" } : { stdio: ["ignore", "pipe", "pipe"] }) });
      const z = readFileSync(join(d, "o.zip"));
      assert.deepEqual(extract(z), want, args.join(" "));
    }
    // errors from real tools
    for (const [args, err] of [[["-P", "pw"], "encrypted: w/empty.txt"], [["-fz"], "ZIP64"]] as const) {
      rmSync(join(d, "o.zip"), { force: true });
      execFileSync("zip", ["-q", ...args, "o.zip", "w/empty.txt", "w/index.html"], { cwd: d });
      const z = readFileSync(join(d, "o.zip"));
      assert.equal(zipIndex(reader(z), z.length), err);
    }
  } finally { rmSync(d, { recursive: true, force: true }); }
});

test("property: truncated or corrupted ZIPs give a string or a usable index, never throw", async () => {
  const j = new JSZip();
  j.file("a.txt", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", { compression: "DEFLATE", comment: "a32=12345678" });
  j.file("b/c.bin", Buffer.from([1, 2, 3, 255]), { comment: "x" });
  const base = await j.generateAsync({ type: "nodebuffer" });
  for (let n = 0; n < base.length; n++) {
    const z = base.subarray(0, n);
    assert.equal(typeof zipIndex(reader(z), z.length), "string", "cut at " + n);
  }
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (flips) => {
    const z = Buffer.from(base);
    for (const [at, v] of flips) z[at % z.length] = v;
    const rd = reader(z), idx = zipIndex(rd, z.length);
    if (typeof idx === "string") return;
    for (const cd of Object.values(idx)) {
      const e = zipEntry(rd, cd);
      assert.ok(cd + 46 <= z.length && e.lh + 30 <= z.length);
      zipData(rd, e.lh);
    }
  }), { numRuns: 2000 });
});

test("index keys inherited from Object.prototype are not entries", () => {
  const z = Buffer.from(V.cases[0].hex, "hex"), idx: any = zipIndex(reader(z), z.length);
  assert.notEqual(typeof idx.constructor, "number");
  assert.notEqual(typeof idx.toString, "number");
});

// ---- wrap

const bytes = fc.uint8Array({ maxLength: 3000 }).map((u) => Buffer.from(u));
const texty = fc.string({ maxLength: 200 }).map((s) => Buffer.from(s.repeat(1 + (s.length % 13))));

test("property: gzip and zlib framing around raw deflate inflates (checksums verified by zlib)", () => {
  fc.assert(fc.property(fc.oneof(bytes, texty), fc.integer({ min: 0, max: 9 }), (b, level) => {
    const raw = zlib.deflateRawSync(b, { level }).toString("latin1"), s = b.toString("latin1");
    const gz = L1(gzipHead() + raw + gzipTail(crc32(s), s.length));
    assert.deepEqual(zlib.gunzipSync(gz), b);
    const zl = L1(zlibHead() + raw + zlibTail(adler32(s)));
    assert.deepEqual(zlib.inflateSync(zl), b);
  }), { numRuns: 200 });
});

test("framing constants", () => {
  assert.equal(gzipHead(), "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff");
  assert.equal((0x78 * 256 + 0xda) % 31, 0);
  assert.equal(zlibHead(), "\x78\xda");
  assert.equal(gzipTail(0xcafebabe, 0x12345678), "\xbe\xba\xfe\xca\x78\x56\x34\x12");
  assert.equal(zlibTail(0xcafebabe), "\xca\xfe\xba\xbe");
  // a wrong CRC must be caught by the decoder (the framing really carries it)
  const raw = zlib.deflateRawSync(Buffer.from("abc")).toString("latin1");
  assert.throws(() => zlib.gunzipSync(L1(gzipHead() + raw + gzipTail(1, 3))));
  assert.throws(() => zlib.inflateSync(L1(zlibHead() + raw + zlibTail(1))));
});

test("property: crc32/adler32 match zlib; incremental equals one-shot", () => {
  fc.assert(fc.property(bytes, bytes, (a, b) => {
    const s = a.toString("latin1"), t = b.toString("latin1"), ab = Buffer.concat([a, b]);
    assert.equal(crc32(s), zlib.crc32(a));
    assert.equal(crc32(t, crc32(s)), zlib.crc32(ab));
    assert.equal(adler32(s), zref(a));
    assert.equal(adler32(t, adler32(s)), zref(ab));
  }), { numRuns: 300 });
  const ff = Buffer.alloc(70000, 0xff); // worst case for the deferred modulo
  assert.equal(adler32(ff.toString("latin1")), zref(ff));
  assert.equal(crc32(""), 0);
  assert.equal(adler32(""), 1);
});

test("crc() prefers a native E.CRC32 and makes its result unsigned", () => {
  const g = globalThis as any, s = "123456789";
  assert.equal(crc(s), 0xcbf43926);
  g.E = { CRC32: (x: string) => zlib.crc32(Buffer.from(x, "latin1")) | 0 }; // an int32-returning build
  try { assert.equal(crc(s), 0xcbf43926); } finally { delete g.E; }
});

// ---- packer

test("packDir: a valid, deterministic ZIP with a32 comments that sprat's reader serves", async () => {
  const d = tmp();
  try {
    mkdirSync(join(d, "web/js"), { recursive: true });
    mkdirSync(join(d, "web/déjà"), { recursive: true });
    writeFileSync(join(d, "web/index.html"), "<!doctype html>\n<!-- c -->\n<html>\n <head>\n  <title> T </title>\n  <style> a { color : red ; } </style>\n </head>\n <body>\n  <p>a <b>b</b> c</p>\n  <pre> x  y </pre>\n  <script>\n   var longName = 1; console.log(longName + 1);\n  </script>\n </body>\n</html>\n");
    writeFileSync(join(d, "web/js/app.js"), "function hello(name) {\n  // say hi\n  return 'hi ' + name;\n}\nhello('x');\n".repeat(5));
    writeFileSync(join(d, "web/s.css"), "/* x */\nbody {\n  margin : 0 ;\n}\n");
    writeFileSync(join(d, "web/noise.bin"), randomBytes(2000));
    writeFileSync(join(d, "web/empty.txt"), "");
    writeFileSync(join(d, "web/déjà/vu.txt"), "vu\n");
    writeFileSync(join(d, "web/.gitkeep"), "");
    const lines: string[] = [];
    const out = join(d, "out/web.zip");
    const r1 = await packDir(join(d, "web"), out, { log: (l: string) => lines.push(l) });
    const r2 = await packDir(join(d, "web"), null, { quiet: true });
    assert.ok(r1.zip.equals(r2.zip), "deterministic");
    assert.ok(readFileSync(out).equals(r1.zip));
    execFileSync("unzip", ["-tq", out]);
    const names = r1.entries.map((e: any) => e.name);
    assert.deepEqual(names, ["déjà/vu.txt", "empty.txt", "index.html", "js/app.js", "noise.bin", "s.css"]);
    assert.ok(lines.some((l) => l.startsWith("total")) && lines.some((l) => l.includes("index.html")));
    const files = extract(r1.zip);
    const byName = (n: string) => r1.entries.find((e: any) => e.name === n);
    assert.equal(byName("noise.bin").method, 0);
    assert.equal(byName("js/app.js").method, 8);
    assert.equal(byName("empty.txt").method, 0);
    // every entry carries an a32 comment; no data descriptors (flag bit 3)
    const z = r1.zip, rd = reader(z), idx = zipIndex(rd, z.length) as Record<string, number>;
    assert.deepEqual(Object.keys(idx).sort(), names.map((n: string) => Buffer.from(n).toString("latin1")).sort());
    for (const cd of Object.values(idx)) {
      assert.equal(u16(rd(cd, 46), 8) & 8, 0);
      assert.notEqual(zipEntry(rd, cd).a, -1);
    }
    assert.equal(files["s.css"], "body{margin :0}");
    assert.equal(files["index.html"].includes("<!--"), false);
    assert.ok(files["index.html"].includes("<pre> x  y </pre>"));
    assert.ok(files["index.html"].includes("<p>a <b>b</b> c</p>"));
    assert.ok(!files["js/app.js"].includes("say hi") && files["js/app.js"].length < byName("js/app.js").raw * 0.7);
  } finally { rmSync(d, { recursive: true, force: true }); }
});

test("packDir: unsafe names are refused, naming the file", async () => {
  const bad = ["back\\slash.txt", "ctl\x01.txt", "x".repeat(101), "tab\there"];
  for (const n of bad) {
    const d = tmp();
    try {
      writeFileSync(join(d, "ok.txt"), "ok");
      writeFileSync(join(d, n), "x");
      await assert.rejects(packDir(d, null, { quiet: true }), (e: Error) => e.message.includes(JSON.stringify(n)) && /unsafe file name/.test(e.message), n);
    } finally { rmSync(d, { recursive: true, force: true }); }
  }
  // a non-UTF-8 name (made through a Buffer path)
  const d = tmp();
  try {
    writeFileSync(Buffer.concat([Buffer.from(d + "/bad"), Buffer.from([0xff, 0xfe]), Buffer.from(".txt")]), "x");
    assert.equal(readdirSync(d).length, 1);
    await assert.rejects(packDir(d, null, { quiet: true }), /unsafe file name "bad\\xff\\xfe\.txt": not UTF-8/);
  } finally { rmSync(d, { recursive: true, force: true }); }
  for (const n of ["/abs", "a/../b", "..", "./a", "a//b", "C:x", "__proto__", "a\0b"]) {
    assert.throws(() => checkName(Buffer.from(n)), (e: Error) => e.message.includes(JSON.stringify(n)), n);
  }
  assert.equal(checkName(Buffer.from("a/b.c")), "a/b.c");
  assert.equal(checkName(Buffer.from("x".repeat(100))), "x".repeat(100));
});

test("minifiers are conservative", async () => {
  assert.equal(minifyCss("a :hover , b>c { x : 1 ; y: 'a  ;  b' ; }"), "a :hover,b>c{x :1;y:'a  ;  b'}");
  assert.equal(minifyCss("a{border:1px/**/solid}"), "a{border:1px solid}");
  assert.equal(minifyCss("@media (min-width: 1px) and (max-width: 2px) { a { b: calc(1px + 2px) } }"),
    "@media (min-width:1px) and (max-width:2px){a{b:calc(1px + 2px)}}");
  assert.equal(await minifyHtml("<div>\n  <span>a</span>\n  <span>b</span>\n</div>"), "<div><span>a</span> <span>b</span></div>");
  assert.equal(await minifyHtml("<p title=\"a  >  b\">x\u00a0 y</p>"), "<p title=\"a  >  b\">x\u00a0 y</p>");
  assert.equal(await minifyHtml("<p>a <script>x()</script> b</p>\n<script>y()</script>\n<div> c </div>"),
    "<p>a <script>x();</script> b</p><script>y();</script><div>c</div>");
  assert.equal(await minifyHtml("<head>\n <title> T </title>\n <meta charset=utf-8>\n <link rel=icon href=x>\n</head>"),
    "<head><title>T</title><meta charset=utf-8><link rel=icon href=x></head>");
  assert.equal(await minifyHtml("<textarea>\n a  b\n</textarea>"), "<textarea>\n a  b\n</textarea>");
  assert.equal(await minifyHtml("<script type=\"application/json\">{ \"a\" : 1 }</script>"), "<script type=\"application/json\">{ \"a\" : 1 }</script>");
  await assert.rejects(minifyHtml("<script>var = ;</script>", { file: "x.html" }), /x\.html: terser/);
  void bin;
});
