// The web app: a ZIP in Storage, served entry by entry straight from flash. Deflated
// entries go out as they are stored, wrapped for the encoding the client accepts.
import { Req } from "../core/http";
import { find } from "../core/str";
import { zipIndex, zipEntry, zipData } from "../core/zip";
import { gzipHead, gzipTail, zlibHead, zlibTail } from "../core/wrap";
import { store, file, head, top, tail, fail, done, stream, routes, bump, tick } from "./http";
import * as P from "sprat:profile";

// The active ZIP's Storage name: a pointer file written by web-app updates, else the profile's.
export var PTR = "web.ptr";
export function active(): string { return store.read(PTR) || P.webFile; }

// zip: the active ZIP as web() last read it (file(): a string or a view reading flash), fn
// its name, ft its last 64 bytes (the fingerprint) and fo where they start, tk the sweep
// (http.ts's tick) it last read the pointer file in; ent: the entries served from it so far
// (request path -> entry(), below), at most 8 of them: a request reads nothing from the ZIP
// but its fingerprint. ae, ad, ag: the last Accept-Encoding seen and whether it accepts
// deflate and gzip (a browser sends the same one every time).
var idx: any, fn = "", fo = -1, ft = "", tk = -1, zip: any, ent: any, ne = 0, ae: any, ad: boolean, ag: boolean;

/**
 * The index of the active ZIP (path -> central-directory offset), or an error message. Every
 * request compares the ZIP's last 64 bytes where it was last found; the pointer file and the
 * ZIP are looked up by name only once a sweep (a Storage look-up scans the file table). A
 * slot switch made through sprat calls load() at once. On Espruino a string of an erased
 * Storage file turns null, and a compaction moves it with its file: a rewrite shows at the
 * next request. Elsewhere a pointer written by hand, or the ZIP rewritten under its own name,
 * shows within 250 ms (or as soon as its last bytes differ), the previous bytes served whole
 * until then.
 */
export function web(): any {
  var z = zip;
  if (tk == tick && z && z.substr(fo) == ft) return idx;
  return load();
}

/** web() reading everything again: the pointer, then the ZIP it names. */
export function load(): any {
  var name = active(), z = zip = file(name), o: number, t: string;
  tk = tick;
  if (!z) return "no web app in Storage (" + name + ")";
  // the end of a ZIP holds its central directory and its offset: any change shows there
  // (a new length moves o, or, for a ZIP of 64 bytes or less, changes t, all of it)
  t = z.substr(o = z.length > 64 ? z.length - 64 : 0);
  if (t != ft || o != fo || name != fn) {
    ft = "" + t; // in RAM: the next compare reads only the new ZIP's end (each char of a Storage string is a file read on Linux)
    fo = o;
    fn = name;
    bump();
    idx = index(z);
    ent = {};
    ne = 0;
  }
  return idx;
}

/** The ZIP index of a whole-file string or view (path -> central-directory offset), or an error. */
export function index(z: any): any {
  return zipIndex(function (o: number, n: number) { return z.substr(o, n); }, z.length);
}

var TYPES = "html text/html|js text/javascript|mjs text/javascript|css text/css|json application/json|svg image/svg+xml|txt text/plain|map application/json|png image/png|ico image/x-icon|jpg image/jpeg|jpeg image/jpeg|gif image/gif|webp image/webp|woff2 font/woff2|wasm application/wasm|";

function type(p: string): string {
  var e = p.substr(p.lastIndexOf(".") + 1).toLowerCase(), i = find(TYPES, e + " "), t: string;
  if (i < 0 || (i && TYPES.charAt(i - 1) != "|")) return "application/octet-stream";
  t = TYPES.substring(i + e.length + 1, TYPES.indexOf("|", i));
  return t.charAt(0) == "t" || e == "json" || e == "svg" ? t + "; charset=utf-8" : t;
}

/** Does an Accept-Encoding value accept coding c (listed or "*", without q=0)? */
export function accepts(ae: string, c: string): boolean {
  var a = ae.toLowerCase().split(","), i = 0, t: string, j: number, q: string;
  for (; i < a.length; i++) {
    t = a[i];
    j = t.indexOf(";");
    q = j < 0 ? "" : t.substr(j + 1).trim();
    t = (j < 0 ? t : t.substr(0, j)).trim();
    if (t == c || t == "*") return !(q.substr(0, 2) == "q=" && !(parseFloat(q.substr(2)) > 0));
  }
  return false;
}

export function hex(n: number) { return ("0000000" + n.toString(16)).substr(-8); }

// "app.3f9a2c1e.js": a name carrying a content hash (8 or more hex digits between dots) can
// be cached for good
var HASHED = /\.[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]+\./;

function fixed(p: string) {
  return "Vary: Accept-Encoding\r\nCache-Control: " + (HASHED.test(p) ? "max-age=31536000, immutable" : "no-cache") + "\r\n";
}

// A served entry: zipEntry's m (method), c (stored size), u (size), crc, a (Adler-32 or -1),
// plus d: data offset, p: ZIP name, F: the fields every answer carries (fixed()), and the
// response as last sent, which only depends on the coding (a browser asks the same way every
// time): E its coding ("" as stored, "d" zlib, "g" gzip, "r" raw deflate), H its head
// without the tail (top()), T its ETag, B and Z the wrapper before and after the data, n the
// body length.
function entry(s: any, q: Req, x: any): any {
  var p = q.p.substr(1), z = zip, e: any, d: number, rd: any;
  if (!p || p.charAt(p.length - 1) == "/") p += "index.html";
  if (typeof x[p] != "number" && P.spaFallback && p.lastIndexOf(".") <= p.lastIndexOf("/")) p = "index.html";
  if (typeof x[p] != "number") return fail(s, 404) && 0;
  rd = function (o: number, n: number) { return z.substr(o, n); };
  e = zipEntry(rd, x[p]);
  d = zipData(rd, e.lh);
  if (d < 0 || d + e.c > z.length) return fail(s, 503, "corrupt web app entry " + p) && 0;
  // (Espruino finds a property by walking the object's list: those every request reads first)
  e = { E: 0, H: "", n: 0, d: d, c: e.c, B: "", Z: "", m: e.m, T: "", F: fixed(p), p: p, a: e.a, crc: e.crc, u: e.u };
  // keyed by the request path (it starts with "/": no inherited name), so that a repeated
  // request skips the mapping above; the cache goes with the index it was built from
  if (++ne > 8) ent = {}, ne = 1;
  return ent[q.p] = e;
}

// The entry's response in coding c (see entry()). HTTP's "deflate" is zlib (RFC 1950),
// which needs the Adler-32 our packer stores; raw deflate is what browsers tolerate under
// the same name. The ETag is strong: content (CRC-32, size) and coding, whose bytes differ.
function form(e: any, c: string) {
  var n = c == "g" ? "gzip" : c ? "deflate" : "";
  e.E = c;
  e.B = c == "d" ? zlibHead() : c == "g" ? gzipHead() : "";
  e.Z = c == "d" ? zlibTail(e.a) : c == "g" ? gzipTail(e.crc, e.u) : "";
  e.T = "\"" + hex(e.crc) + hex(e.u) + n.charAt(0) + "\"";
  e.n = e.B.length + e.c + e.Z.length;
  e.H = top(200, "Content-Type: " + type(e.p) + "\r\n" + (n ? "Content-Encoding: " + n + "\r\n" : "") + "ETag: " + e.T + "\r\n" + e.F, e.n);
}

// The coding a deflated entry e goes out in for Accept-Encoding h; "" after a 406 if none is
// acceptable.
function coding(s: any, e: any, h: string): string {
  var c: string;
  if (h !== ae) {
    ae = h;
    ad = accepts(h, "deflate");
    ag = accepts(h, "gzip");
  }
  // zlib if the packer stored the Adler-32 it needs, else gzip (all a ZIP has is the CRC-32
  // gzip needs), raw deflate the last resort
  if (!(c = e.a >= 0 && ad ? "d" : ag ? "g" : ad ? "r" : "")) fail(s, 406, e.p + " is stored deflated; send Accept-Encoding: deflate or gzip", "Vary: Accept-Encoding\r\n");
  return c;
}

// A 304 if If-None-Match h names the entry as last formed.
function same(s: any, e: any, h: string): any {
  if (find(h, e.T) < 0 && h.trim() != "*") return 0;
  s.write(head(s, 304, "ETag: " + e.T + "\r\n" + e.F, -1));
  return done(s);
}

// The last route: every GET and HEAD the others left. Only a cached file's path is here; the
// rest is in functions of their own (Espruino walks the text of a function it runs, executed
// or not).
routes.push(function (s: any, q: Req) {
  var x: any, e: any, c = "", h: string, n: number;
  if (q.m != "GET" && q.m != "HEAD") return false;
  if (typeof (x = web()) == "string") return fail(s, 503, "web app unavailable: " + x);
  if (!(e = ent[q.p]) && !(e = entry(s, q, x)) || e.m == 8 && !(c = coding(s, e, q.h["accept-encoding"] || ""))) return 1;
  if (e.E !== c) form(e, c); // (E starts as 0: never a coding)
  if ((h = q.h["if-none-match"]) && same(s, e, h)) return 1;
  h = e.H + tail(s, n = e.n);
  if (s._k & 4) n = 0; // HEAD
  // a body that fits one piece goes out with the head in one write (B and Z: "" unless deflated)
  if (n > P.chunk) return stream(s, zip, e.d, e.d + e.c, e.Z, h + e.B), 1;
  s.write(n ? h + e.B + zip.substr(e.d, e.c) + e.Z : h);
  return done(s);
});
