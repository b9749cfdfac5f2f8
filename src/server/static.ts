// The web app: a ZIP in Storage, served entry by entry straight from flash. Deflated
// entries go out as they are stored, wrapped for the encoding the client accepts.
import { Req } from "../core/http";
import { find } from "../core/str";
import { zipIndex, zipEntry, zipData } from "../core/zip";
import { gzipHead, gzipTail, zlibHead, zlibTail } from "../core/wrap";
import { store, file, head, fail, done, out, pump, routes, gen, bump } from "./http";
import * as P from "sprat:profile";

// The active ZIP's Storage name: a pointer file written by web-app updates, else the profile's.
export var PTR = "web.ptr";
export function active(): string { return store.read(PTR) || P.webFile; }

// zip: the active ZIP as web() last read it (file(): a string or a view reading flash);
// ent: the entries served from it so far (request path -> zipEntry's fields plus d: data
// offset, t: ETag core, y and f: fixed header fields, p: ZIP name), at most 8 of them: a request reads
// nothing from the ZIP but its fingerprint. ae, ad, ag: the last Accept-Encoding seen and
// whether it accepts deflate and gzip (a browser sends the same one every time).
var idx: any, fn = "", fl = -1, ft = "", zip: any, ent: any, ne = 0, ae: any, ad: boolean, ag: boolean;

/** The index of the active ZIP (path -> central-directory offset), or an error message. */
export function web(): any {
  var name = active(), z = zip = file(name), t: string;
  if (!z) return "no web app in Storage (" + name + ")";
  // the end of a ZIP holds its central directory and its offset: any change shows there
  t = z.substr(z.length > 64 ? z.length - 64 : 0);
  if (t != ft || z.length != fl || name != fn) {
    ft = t;
    fl = z.length;
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

routes.push(function (s: any, q: Req) {
  if (q.m != "GET" && q.m != "HEAD") return false;
  var x = web(), p = q.p, e = ent, z = zip, rd: any, d: number, enc = "", pre = "", post = "", tag: string, h: string, n: number;
  if (typeof x == "string") return fail(s, 503, "web app unavailable: " + x);
  // keyed by the request path (it starts with "/": no inherited name), so that a repeated
  // request skips the mapping below; the cache goes with the index it was built from
  if (!(e = e[p])) {
    p = p.substr(1);
    if (!p || p.charAt(p.length - 1) == "/") p += "index.html";
    if (typeof x[p] != "number" && P.spaFallback && p.lastIndexOf(".") <= p.lastIndexOf("/")) p = "index.html";
    if (typeof x[p] != "number") return fail(s, 404);
    rd = function (o: number, n: number) { return z.substr(o, n); };
    e = zipEntry(rd, x[p]);
    d = zipData(rd, e.lh);
    if (d < 0 || d + e.c > z.length) return fail(s, 503, "corrupt web app entry " + p);
    if (++ne > 8) ent = {}, ne = 1;
    ent[q.p] = e;
    e.d = d;
    e.t = hex(e.crc) + hex(e.u);
    e.y = "Content-Type: " + type(p) + "\r\n";
    e.f = "Vary: Accept-Encoding\r\nCache-Control: " + (HASHED.test(p) ? "max-age=31536000, immutable" : "no-cache") + "\r\n";
    e.p = p;
  }
  if (e.m == 8) {
    h = q.h["accept-encoding"] || "";
    if (h !== ae) {
      ae = h;
      ad = accepts(h, "deflate");
      ag = accepts(h, "gzip");
    }
    // HTTP's "deflate" is zlib (RFC 1950), which needs the Adler-32 our packer stores. A ZIP
    // from another tool has only the CRC-32, which is all gzip needs; raw deflate (which
    // browsers tolerate as "deflate") is the last resort.
    if (e.a >= 0 && ad) {
      enc = "deflate";
      pre = zlibHead();
      post = zlibTail(e.a);
    } else if (ag) {
      enc = "gzip";
      pre = gzipHead();
      post = gzipTail(e.crc, e.u);
    } else if (ad) enc = "deflate";
    else return fail(s, 406, e.p + " is stored deflated; send Accept-Encoding: deflate or gzip", "Vary: Accept-Encoding\r\n");
  }
  // strong validator: content (CRC-32, size) and encoding, whose bytes differ
  tag = "\"" + e.t + enc.charAt(0) + "\"";
  h = q.h["if-none-match"];
  if (h && (find(h, tag) >= 0 || h.trim() == "*")) {
    out(s, head(s, 304, "ETag: " + tag + "\r\n" + e.f, -1));
    return done(s);
  }
  n = pre.length + e.c + post.length;
  h = head(s, 200, e.y + (enc ? "Content-Encoding: " + enc + "\r\n" : "") + "ETag: " + tag + "\r\n" + e.f, n);
  if (q.m == "HEAD") n = 0;
  // a body that fits one piece goes out with the head in one write
  if (n <= P.chunk) {
    out(s, n ? h + pre + z.substr(e.d, e.c) + post : h);
    return done(s);
  }
  s._z = z;
  s._f = e.d;
  s._e = e.d + e.c;
  s._t = post;
  s._g = gen;
  pump(s, h + pre);
  return 1;
});
