// require("Storage") over ONE flash image file laid out like Espruino's (src/jsflash.c):
//   [header 32 B: u32le size | flags<<24, name[28] NUL-padded][data, padded to 4 B] ...
// Erased flash is 0xFF; a deleted/replaced file has its first 4 name bytes zeroed.
// Every write is ANDed into the existing bytes (NOR flash) and written to the image with
// fs.writeSync at once, so killing the process leaves a realistic partial image.
// A replacing write zeroes the old name, then writes the new header, then the data.
// Error texts are those of jsfWriteFile / jswrap_storage.c (2v29) and were checked on the
// Linux binary, as were the data conversions (number -> 1 byte, [65,66,300] -> "AB,").
// Not emulated: StorageFile (open), the [FILENAME_TABLE] (we skip such files like
// Espruino does), hash(), drive prefixes ("C:"), zero-copy/memory-mapped strings
// (read() returns a copy; E.getSizeOf of it is not 1 block as on a board).
import fs from "node:fs";
import { rawBytes } from "./bytes.mjs";

const HDR = 32, NAME = 28;
const align = (n) => (n + 3) & ~3;
const FLAGS_OK = new Set([0, 64, 128]); // normal, StorageFile, compressed (jsfIsRealFile)

export function createStorage(rt) {
  const { realm, opts } = rt;
  const { api, obj, lib, arr, ab, mkErr } = realm;
  const total = opts.flashSize, page = opts.pageSize;

  // ---- the image -----------------------------------------------------------------
  if (!fs.existsSync(opts.flash)) fs.writeFileSync(opts.flash, Buffer.alloc(total, 0xff));
  const fd = fs.openSync(opts.flash, "r+");
  const mem = Buffer.alloc(total, 0xff);
  fs.readSync(fd, mem, 0, Math.min(total, fs.fstatSync(fd).size), 0);
  if (fs.fstatSync(fd).size < total) fs.writeSync(fd, mem, 0, total, 0);
  const flashWrite = (addr, bytes) => {
    for (let i = 0; i < bytes.length; i++) mem[addr + i] &= bytes[i];
    fs.writeSync(fd, mem, addr, bytes.length, addr);
  };
  const erase = (from, to) => { // whole pages covering [from, to)
    from -= from % page; to = Math.min(total, Math.ceil(to / page) * page);
    if (to > from) { mem.fill(0xff, from, to); fs.writeSync(fd, mem, from, to - from, from); }
  };
  const isErased = (a, n) => { for (let i = 0; i < n; i++) if (mem[a + i] !== 0xff) return false; return true; };

  // ---- file headers ------------------------------------------------------------------
  const nameBytes = (name) => {
    const b = Buffer.alloc(NAME); // jsvGetString into char[29]: silently truncated to 28
    const s = String(name);
    for (let i = 0; i < Math.min(NAME, s.length); i++) b[i] = s.charCodeAt(i) & 255;
    return b;
  };
  const header = (a) => {
    if (a + HDR > total) return null;
    const word = mem.readUInt32LE(a), size = word & 0xffffff;
    if (word === 0xffffffff || word === 0 || a + HDR + size > total) return null;
    return { addr: a, size, flags: word >>> 24, deleted: mem.readUInt32LE(a + 4) === 0, name: mem.subarray(a + 4, a + HDR) };
  };
  /** All headers, following jsfGetNextFileHeader(GNFH_GET_ALL). */
  function files() {
    const out = [];
    let a = 0, h = header(0);
    while (h) {
      out.push(h);
      a = align(a + HDR + h.size);
      if (a + HDR > total) break;
      h = header(a);
      if (!h) { a = a + page - (a % page); if (a < total) h = header(a); } // maybe on the next page
    }
    return out;
  }
  const real = (h) => !h.deleted && FLAGS_OK.has(h.flags);
  const find = (nb) => files().find((h) => real(h) && h.name.equals(nb));
  const end = (list) => (list.length ? align(list.at(-1).addr + HDR + list.at(-1).size) : 0);
  const nameStr = (h) => { const i = h.name.indexOf(0); return h.name.subarray(0, i < 0 ? NAME : i).toString("latin1"); };

  function stats() {
    const s = { totalBytes: total, freeBytes: 0, fileBytes: 0, fileCount: 0, trashBytes: 0, trashCount: 0 };
    const list = files();
    for (const h of list) {
      if (h.deleted) { s.trashBytes += align(h.size) + HDR; s.trashCount++; }
      else { s.fileBytes += align(h.size) + HDR; s.fileCount++; }
    }
    s.freeBytes = total - end(list);
    return s;
  }

  /** jsfCompact: move live files down over the trash, page by page. */
  function compact() {
    const list = files();
    const first = list.findIndex((h) => h.deleted);
    if (first < 0) return false;
    let start = 0; // last page start holding a header, before the first deleted file
    for (const h of list.slice(0, first + 1)) if (h.addr % page === 0) start = h.addr;
    rt.log("Compacting...");
    const keep = list.filter((h) => h.addr >= start && real(h));
    const data = Buffer.concat(keep.map((h) => Buffer.from(mem.subarray(h.addr, h.addr + HDR + align(h.size)))));
    const oldEnd = end(list);
    for (let off = 0; off < data.length; off += page) {
      erase(start + off, start + off + 1);
      flashWrite(start + off, data.subarray(off, off + page));
    }
    erase(start + Math.ceil(data.length / page) * page, oldEnd);
    return true;
  }

  function create(nb, size) {
    const required = align(size) + HDR;
    for (let compacted = false; ;) {
      const list = files(), at = end(list);
      if (total - at >= required) {
        const h = Buffer.alloc(HDR);
        h.writeUInt32LE(size, 0);
        nb.copy(h, 4);
        flashWrite(at, h);
        return { addr: at, size, flags: 0 };
      }
      const trash = list.filter((h) => h.deleted).reduce((n, h) => n + h.size, 0);
      if (compacted || required >= total - at + trash) return null;
      compacted = true;
      if (!compact()) return null;
    }
  }
  const eraseFile = (h) => flashWrite(h.addr + 4, Buffer.alloc(4)); // zero name.firstChars

  /** jsfWriteFile */
  function writeFile(name, data, offset, size) {
    if (offset < 0 || size < 0) return false;
    const d = rawBytes(data, mkErr, rt.warn);
    if (!size) size = d.length;
    if (!size) throw mkErr("Error", "Can't create zero length file");
    const nb = nameBytes(name);
    let h = find(nb);
    const dataAt = (f) => f.addr + HDR;
    if ((!h && offset === 0) ||
        (h && offset === 0 && (h.flags !== 0 || h.size !== size || !isErased(dataAt(h), size)))) {
      if (h && offset === 0 && h.size === size && h.flags === 0 && d.length === size &&
          mem.subarray(dataAt(h), dataAt(h) + size).equals(d)) return true; // "files Equal"
      if (h) eraseFile(h);
      h = create(nb, size);
    }
    if (!h) throw mkErr("Error", "Unable to find or create file");
    if (offset + d.length > h.size) throw mkErr("Error", "Too much data for file size");
    if (!isErased(dataAt(h) + offset, d.length)) throw mkErr("Error", "File already written with different data");
    flashWrite(dataAt(h) + offset, d);
    return true;
  }

  function readFile(name, offset, length) {
    const h = find(nameBytes(name));
    if (!h) return undefined;
    offset = Math.min(Math.max(offset | 0, 0), h.size);
    length = length | 0;
    if (length <= 0 || offset + length > h.size) length = h.size - offset;
    return mem.toString("latin1", h.addr + HDR + offset, h.addr + HDR + offset + length);
  }

  const parseJSON = (text, noExceptions) => {
    try { return realm.R.JSON.parse(text); } catch (e) {
      try { return liberal(text, realm); } catch { /* fall through */ }
      if (noExceptions) return undefined;
      throw mkErr("SyntaxError", e.message);
    }
  };

  const module = lib({
    write: api((name, data, offset, size) => {
      if (data !== null && typeof data === "object" && !Array.isArray(data) && !ArrayBuffer.isView(data) &&
          Object.prototype.toString.call(data) !== "[object ArrayBuffer]")
        return writeFile(name, realm.R.JSON.stringify(data), 0, 0);
      return writeFile(name, data, Number(offset) | 0, Number(size) | 0);
    }),
    writeJSON: api((name, data) => writeFile(name, compactJSON(data), 0, 0)),
    read: api((name, offset, length) => readFile(name, offset, length)),
    readJSON: api((name, noExceptions) => {
      const t = readFile(name);
      return t === undefined ? undefined : parseJSON(t, noExceptions);
    }),
    readArrayBuffer: api((name) => {
      const t = readFile(name);
      return t === undefined ? undefined : ab(Buffer.from(t, "latin1"));
    }),
    erase: api((name) => { const h = find(nameBytes(name)); if (h) eraseFile(h); }),
    eraseAll: api(() => erase(0, total)),
    list: api((regex, filter) => {
      const out = [];
      for (const h of files()) {
        if (!real(h)) continue;
        if (filter && typeof filter === "object" && "sf" in filter) {
          const sf = (h.flags & 64) !== 0;
          if (!!filter.sf !== sf) continue;
        }
        let n = nameStr(h);
        if (h.flags & 64) { if (n.at(-1) !== "\x01") continue; if (filter && filter.sf) n = n.slice(0, -1); }
        if (regex !== undefined && regex !== null && String.prototype.match.call(n, regex) == null) continue;
        out.push(n);
      }
      return arr(out);
    }),
    getFree: api(() => stats().freeBytes),
    getStats: api(() => obj(stats())),
    compact: api(() => { compact(); }),
  });
  return { module, close: () => fs.closeSync(fd) };
}

/** writeJSON: compact JS (unquoted identifier keys), as 2v20+ writes it. */
function compactJSON(v) {
  const str = (s) => JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0"));
  const enc = (x) => {
    if (x === null || typeof x !== "object") return typeof x === "string" ? str(x) : typeof x === "function" ? undefined : JSON.stringify(x);
    if (typeof x.toJSON === "function") return enc(x.toJSON());
    if (Array.isArray(x) || ArrayBuffer.isView(x)) return "[" + Array.from(x, (e) => enc(e) ?? "null").join(",") + "]";
    const parts = [];
    for (const k of Object.keys(x)) {
      const e = enc(x[k]);
      if (e !== undefined) parts.push((/^[A-Za-z_$][\w$]*$/.test(k) ? k : str(k)) + ":" + e);
    }
    return "{" + parts.join(",") + "}";
  };
  return enc(v) ?? "";
}

/** readJSON is liberal (jswrap_json_parse_liberal): unquoted keys, '...' strings, \xHH. */
function liberal(text, realm) {
  let i = 0;
  const ws = () => { while (/\s/.test(text[i] || "")) i++; };
  const fail = () => { throw new Error("bad JSON"); };
  const value = () => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++; const o = new realm.R.Object(); ws();
      if (text[i] === "}") { i++; return o; }
      for (;;) {
        ws();
        let k;
        if (text[i] === '"' || text[i] === "'") k = string();
        else { const m = /^[A-Za-z_$][\w$]*/.exec(text.slice(i)) || fail(); k = m[0]; i += k.length; }
        ws(); if (text[i++] !== ":") fail();
        o[k] = value(); ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i++] === "}") return o;
        fail();
      }
    }
    if (c === "[") {
      i++; const a = new realm.R.Array(); ws();
      if (text[i] === "]") { i++; return a; }
      for (;;) {
        a.push(value()); ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i++] === "]") return a;
        fail();
      }
    }
    if (c === '"' || c === "'") return string();
    const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null|undefined)/.exec(text.slice(i)) || fail();
    i += m[0].length;
    return m[0] === "undefined" ? undefined : JSON.parse(m[0]);
  };
  const string = () => {
    const q = text[i++]; let s = "";
    while (text[i] !== q) {
      if (i >= text.length) fail();
      let c = text[i++];
      if (c === "\\") {
        c = text[i++];
        const esc = { n: "\n", r: "\r", t: "\t", b: "\b", f: "\f", 0: "\0" };
        if (c === "x") { c = String.fromCharCode(parseInt(text.substr(i, 2), 16)); i += 2; }
        else if (c === "u") { c = String.fromCharCode(parseInt(text.substr(i, 4), 16)); i += 4; }
        else if (c in esc) c = esc[c];
      }
      s += c;
    }
    i++;
    return s;
  };
  const v = value(); ws();
  if (i < text.length) fail();
  return v;
}
