#!/usr/bin/env node
// The web packer: minifies a directory of web files and packs it into the ZIP that the
// device serves straight from Storage (src/core/zip.ts reads its central directory).
//
//   node tools/pack-web.mjs [srcDir=web] [out.zip=build/web.zip]
//
// Each entry is DEFLATE level 9, or STORED when deflate would not shrink it. Its file
// comment is "a32=" + the Adler-32 (8 lowercase hex digits) of the entry's uncompressed
// bytes, so the server can wrap the deflate data as zlib without reading it twice.
// Output is deterministic: sorted entries, fixed dates, no directory entries, no data
// descriptors (sizes and CRC sit in the local headers as well as the central directory).
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { pathToFileURL } from "node:url";
import JSZip from "jszip";
import { minify as terser } from "terser";

// 1980-01-01 00:00 UTC, the DOS epoch; jszip writes DOS times from the UTC fields.
export const FIXED_DATE = new Date(Date.UTC(1980, 0, 1));
export const MAX_NAME = 100;

export function adler32(buf) {
  let a = 1, b = 0;
  for (let i = 0; i < buf.length; ) {
    for (const n = Math.min(i + 3800, buf.length); i < n; i++) b += a += buf[i];
    a %= 65521;
    b %= 65521;
  }
  return (b * 65536 + a) >>> 0;
}

/** Throws unless `name` (a Buffer of the path relative to the root, "/"-separated) is safe. */
export function checkName(nameBuf) {
  let name;
  try {
    name = new TextDecoder("utf-8", { fatal: true }).decode(nameBuf);
  } catch {
    const shown = Array.from(nameBuf, (b) => (b > 31 && b < 127 ? String.fromCharCode(b) : "\\x" + b.toString(16).padStart(2, "0")));
    throw new Error(`unsafe file name "${shown.join("")}": not UTF-8`);
  }
  const bad = (why) => new Error(`unsafe file name ${JSON.stringify(name)}: ${why}`);
  if (!name) throw bad("empty");
  if (nameBuf.length > MAX_NAME) throw bad(`longer than ${MAX_NAME} bytes (${nameBuf.length})`);
  if (/[\x00-\x1f\x7f]/.test(name)) throw bad("control character");
  if (name.includes("\\")) throw bad("backslash");
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) throw bad("absolute path");
  if (name.split("/").some((s) => s === ".." || s === "." || s === "")) throw bad("empty, '.' or '..' segment");
  if (name.endsWith("/")) throw bad("directory name");
  if (name === "__proto__") throw bad("reserved name"); // would be an object's prototype on the device
  return name;
}

// HTML and CSS whitespace; \s would also take U+00A0, which renders.
const WS = /[ \t\n\r\f]+/g;
const HIDDEN = new Set(["script", "style", "link", "meta", "base", "template"]);
const BLOCK = new Set(("html head body title noscript div p ul ol li dl dt dd " +
  "table thead tbody tfoot tr td th caption colgroup col section header footer nav main article aside " +
  "h1 h2 h3 h4 h5 h6 form fieldset legend br hr pre blockquote figure figcaption details summary dialog " +
  "select option optgroup svg canvas video audio source iframe").split(" "));

/** Conservative HTML minifier: drops comments and whitespace that cannot render. */
export async function minifyHtml(html, opts = {}) {
  const parts = [];
  // raw-text / whitespace-significant elements are handled as units
  const raw = /<(script|style|pre|textarea)\b((?:[^>"']|"[^"]*"|'[^']*')*)>([\s\S]*?)<\/\1\s*>/gi;
  let last = 0, m;
  while ((m = raw.exec(html))) {
    parts.push({ text: html.slice(last, m.index) });
    const tag = m[1].toLowerCase(), attrs = m[2];
    let body = m[3];
    if (tag === "script" && body.trim()) {
      const type = /\btype\s*=\s*["']?([^"'\s>]+)/i.exec(attrs);
      const t = type ? type[1].toLowerCase() : "";
      if (!t || t === "module" || t === "text/javascript" || t === "application/javascript") {
        body = await minifyJs(body, { module: t === "module", file: opts.file });
      }
    } else if (tag === "style") body = minifyCss(body);
    parts.push({ keep: `<${m[1]}${attrs}>${body}</${m[1]}>`, tag });
    last = raw.lastIndex;
  }
  parts.push({ text: html.slice(last) });
  // split the markup into tags and text; comments go
  const toks = [];
  for (const p of parts) {
    if (p.keep) { toks.push({ tag: p.tag, s: p.keep }); continue; }
    const re = /<!--[\s\S]*?-->|<(\/?)([A-Za-z!][^\s/>]*)(?:[^>"']|"[^"]*"|'[^']*')*>|[^<]+|</g;
    while ((m = re.exec(p.text))) {
      if (m[0].startsWith("<!--")) continue;
      if (m[2]) toks.push({ tag: m[2].toLowerCase().replace(/^!doctype$/, "html"), s: m[0] });
      else toks.push({ s: m[0].replace(WS, " ") });
    }
  }
  // merge adjacent text tokens (left by removed comments)
  const t2 = [];
  for (const t of toks) {
    const prev = t2[t2.length - 1];
    if (prev && prev.tag === undefined && t.tag === undefined) prev.s = (prev.s + t.s).replace(WS, " ");
    else t2.push(t);
  }
  // Whitespace next to a block-level tag (or the document's ends) cannot render. Tags that
  // render nothing are looked through: in "a <script></script> b" both spaces stay.
  const blockSide = (i, dir) => {
    let j = i + dir;
    while (j >= 0 && j < t2.length && (HIDDEN.has(t2[j].tag) || t2[j].s === "")) j += dir;
    return j < 0 || j >= t2.length || BLOCK.has(t2[j].tag);
  };
  for (let i = 0; i < t2.length; i++) {
    const t = t2[i];
    if (t.tag !== undefined) continue;
    if (blockSide(i, -1)) t.s = t.s.replace(/^ /, "");
    if (blockSide(i, 1)) t.s = t.s.replace(/ $/, "");
  }
  return t2.map((t) => t.s).join("");
}

/** Conservative CSS minifier: comments, and whitespace where it can never matter. */
export function minifyCss(css) {
  let out = "", ws = false;
  for (let i = 0; i < css.length; ) {
    const c = css[i];
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < css.length && css[j] !== c && css[j] !== "\n") j += css[j] === "\\" ? 2 : 1;
      if (ws && out && !"{};,:(>".includes(out[out.length - 1])) out += " ";
      ws = false;
      out += css.slice(i, j + 1);
      i = j + 1;
    } else if (c === "/" && css[i + 1] === "*") {
      const j = css.indexOf("*/", i + 2);
      i = j < 0 ? css.length : j + 2;
      ws = true; // a comment separates tokens
    } else if (" \t\n\r\f".includes(c)) {
      ws = true;
      i++;
    } else {
      if (ws && out && !"{};,:(>".includes(out[out.length - 1]) && !"{};,)>".includes(c)) out += " ";
      ws = false;
      if (c === "}" && out.endsWith(";")) out = out.slice(0, -1);
      out += c;
      i++;
    }
  }
  return out;
}

export async function minifyJs(code, opts = {}) {
  try {
    const r = await terser(code, { module: !!opts.module, ecma: 2020, compress: { passes: 2 }, mangle: true, format: { comments: false } });
    return r.code;
  } catch (e) {
    throw new Error(`${opts.file || "script"}: terser: ${e.message}${e.line ? ` (line ${e.line})` : ""}`);
  }
}

async function minifyFile(name, buf) {
  const ext = path.extname(name).toLowerCase(), text = () => buf.toString("utf8");
  if (ext === ".html" || ext === ".htm") return Buffer.from(await minifyHtml(text(), { file: name }));
  if (ext === ".css") return Buffer.from(minifyCss(text()));
  if (ext === ".js" || ext === ".mjs") return Buffer.from(await minifyJs(text(), { module: ext === ".mjs", file: name }));
  if (ext === ".json") {
    try { return Buffer.from(JSON.stringify(JSON.parse(text()))); } catch (e) { throw new Error(`${name}: ${e.message}`); }
  }
  return buf;
}

// Regular files under dir, as [{ name: Buffer (relative, "/"-separated), file: full path }].
function walk(dir, rel, out, opts) {
  for (const d of fs.readdirSync(dir, { withFileTypes: true, encoding: "buffer" })) {
    if (!opts.dot && d.name[0] === 0x2e) continue; // dotfiles (.gitkeep, .DS_Store) stay out
    const full = Buffer.concat([dir, Buffer.from("/"), d.name]);
    const name = rel ? Buffer.concat([rel, Buffer.from("/"), d.name]) : d.name;
    let st = d;
    if (d.isSymbolicLink()) st = fs.statSync(full);
    if (st.isDirectory()) {
      if (d.isSymbolicLink()) throw new Error(`${full.toString()}: symlinked directories are not followed`);
      walk(full, name, out, opts);
    } else if (st.isFile()) out.push({ name, file: full });
  }
  return out;
}

// Central directory → [{ name, method, csize, usize, flags, comment }], to report what
// jszip really wrote.
export function readCentral(zip) {
  const e = zip.lastIndexOf(Buffer.from("PK\x05\x06", "latin1"));
  if (e < 0) throw new Error("no EOCD");
  const n = zip.readUInt16LE(e + 10), out = [];
  for (let p = zip.readUInt32LE(e + 16), i = 0; i < n; i++) {
    const nl = zip.readUInt16LE(p + 28), xl = zip.readUInt16LE(p + 30), cl = zip.readUInt16LE(p + 32);
    out.push({
      name: zip.toString("utf8", p + 46, p + 46 + nl), flags: zip.readUInt16LE(p + 8), method: zip.readUInt16LE(p + 10),
      crc: zip.readUInt32LE(p + 16), csize: zip.readUInt32LE(p + 20), usize: zip.readUInt32LE(p + 24),
      comment: zip.toString("latin1", p + 46 + nl + xl, p + 46 + nl + xl + cl),
    });
    p += 46 + nl + xl + cl;
  }
  return out;
}

/**
 * Packs dir into a ZIP. opts: { minify = true, dot = false, quiet = false, log = console.log }.
 * Returns { zip: Buffer, entries: [{ name, raw, size, packed, method, adler, crc }] }; writes
 * outZip when given.
 */
export async function packDir(dir, outZip, opts = {}) {
  const files = walk(Buffer.from(dir), null, [], opts).sort((a, b) => Buffer.compare(a.name, b.name));
  const entries = [];
  for (const f of files) {
    const name = checkName(f.name), raw = fs.readFileSync(f.file);
    const data = opts.minify === false ? raw : await minifyFile(name, raw);
    entries.push({
      name, data, raw: raw.length, size: data.length, adler: adler32(data),
      method: zlib.deflateRawSync(data, { level: 9 }).length < data.length ? 8 : 0,
    });
  }
  let zip;
  for (;;) {
    const z = new JSZip();
    for (const e of entries) {
      z.file(e.name, e.data, {
        binary: true, date: FIXED_DATE, createFolders: false, comment: "a32=" + e.adler.toString(16).padStart(8, "0"),
        compression: e.method ? "DEFLATE" : "STORE", compressionOptions: { level: 9 },
      });
    }
    zip = await z.generateAsync({ type: "nodebuffer", platform: "DOS", streamFiles: false });
    // jszip deflates with pako, which can differ from zlib: store whatever still grew
    let again = false;
    const byName = new Map(readCentral(zip).map((c) => [c.name, c]));
    for (const e of entries) {
      const c = byName.get(e.name);
      Object.assign(e, { packed: c.csize, crc: c.crc });
      if (c.method === 8 && c.csize >= c.usize) e.method = 0, again = true;
    }
    if (!again) break;
  }
  for (const e of entries) delete e.data;
  if (outZip) {
    fs.mkdirSync(path.dirname(outZip), { recursive: true });
    fs.writeFileSync(outZip, zip);
  }
  if (!opts.quiet) printTable(entries, zip.length, opts.log || console.log);
  return { zip, entries };
}

function printTable(entries, total, log) {
  const w = Math.max(4, ...entries.map((e) => e.name.length));
  const row = (a, b, c, d, m) => log(`${a.padEnd(w)}  ${String(b).padStart(8)}  ${String(c).padStart(8)}  ${String(d).padStart(8)}  ${m}`);
  row("file", "raw", "minified", "packed", "method");
  let raw = 0, min = 0, packed = 0;
  for (const e of entries) {
    row(e.name, e.raw, e.size, e.packed, e.method ? "deflate" : "stored");
    raw += e.raw; min += e.size; packed += e.packed;
  }
  row("total", raw, min, packed, `${entries.length} files, zip ${total} bytes`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const [dir = "web", out = "build/web.zip"] = process.argv.slice(2);
  packDir(dir, out).then(
    ({ zip }) => console.log(`wrote ${out} (${zip.length} bytes)`),
    (e) => { console.error(`pack-web: ${e.message}`); process.exit(1); },
  );
}
