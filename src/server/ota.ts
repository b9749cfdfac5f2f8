// Web-app updates without reflashing (docs/ota.md). The app lives in one of two Storage
// slots, the profile's webFile and webFile + "~"; the pointer file PTR (static.ts) names the
// active one and is written LAST, once the other slot holds a verified ZIP:
//   PUT /api/web            raw ZIP body, X-Sprat-Size (= Content-Length), X-Sprat-CRC32
//   POST /api/web/rollback  back to the other slot if it holds a valid app
//   method web.info         {active, slots: [{name, size, crc, valid}], free, max, rollback}
// The body streams into the inactive slot in pieces of about `chunk` bytes: never the whole
// ZIP in RAM. One upload at a time, so its state lives here, not on the socket.
import { Req, tok } from "../core/http";
import { hexAt } from "../core/json";
import { crc32 } from "../core/wrap";
import { store, paths, reply, out, alive, bump, conns } from "./http";
import { method, rpcError, json } from "./rpc";
import { originOk } from "./ws";
import { PTR, active, load, index, hex } from "./static";
// May this request change the web app? With a device password set: a Bearer token.
import { allowed as auth } from "./auth";
import * as P from "sprat:profile";

var hook: any;
/** fn(level, message) hears of updates, roll-backs and failed uploads (the app logs them). */
export function onWeb(fn: (level: string, msg: string) => void) { hook = fn; }

// Storage silently truncates names to 28 characters: the second slot must stay distinct.
var A = P.webFile, B = A.length < 28 ? A + "~" : "web~";
// Native CRC-32 is one pass over the memory-mapped file; without it, JS over the pieces.
// (P.ota first: without the feature the whole test goes from the bundle)
var NC = P.ota && typeof E != "undefined" && !!E.CRC32;

// The upload in progress: its socket (0: none), slot, size, CRC wanted, bytes written, bytes
// not yet written, JS CRC so far, extra reply headers (CORS).
var up: any = 0, slot = "", size = 0, want = 0, off = 0, buf = "", jc = 0, ch = "";

/** Why slot n holds no usable web app (a ZIP with index.html), or "" if it does. */
function bad(n: string): string {
  var z = store.read(n), x: any = z ? index(z) : "missing";
  return typeof x == "string" ? x : typeof x["index.html"] == "number" ? "" : "no index.html";
}

function info(n: string) {
  var z = store.read(n);
  return { name: n, size: z ? z.length : 0, crc: z && NC ? hex(E.CRC32(z) >>> 0) : null, valid: !bad(n) };
}

function other() { return active() == A ? B : A; }

// Storage bytes of an n-byte file: a 32-byte header, the data padded to 8.
function al(n: number) { return (n + 7 & ~7) + 32; }

/** Bytes a new file in slot n may take: free space, trash (compacted away) and the slot itself. */
function room(n: string): number {
  var st = store.getStats ? store.getStats() : 0, z = store.read(n);
  return (st ? st.freeBytes + st.trashBytes : store.getFree()) + (z ? al(z.length) : 0);
}

/** A JSON reply; errors as {"error": {code, message}} like the REST mirror's. */
function res(s: any, code: number, v: any, h: string) {
  return reply(s, code, "application/json", json(code > 299 ? { error: rpcError(code == 401 ? -32001 : code == 409 ? -32002 : -32602, v) } : v), h);
}

// The switch: the pointer names the new slot (written last), the server re-indexes at once
// (gen bumps: responses still streaming the old ZIP stop), the app hears of it.
function sw(n: string, msg: string) {
  store.write(PTR, n);
  load();
  if (hook) hook("info", msg);
}

// A failed upload; the pointer was never touched. Once written to, the slot goes: a partial
// or unverified ZIP must not become a roll-back target.
function end(s: any, code: number, msg: string) {
  if (off) store.erase(slot);
  up = 0;
  buf = "";
  if (hook) hook("warn", "web app update failed: " + msg);
  return s && res(s, code, msg, ch);
}

function body(s: any, d: string, last: boolean) {
  var c: number, e: string;
  alive(s); // a slow upload is progress, not idleness
  buf = buf ? buf + d : d;
  if (buf.length < P.chunk && !last) return;
  try {
    store.write(slot, buf, off, size); // the first piece creates the file at its full size
  } catch (x) {
    return end(s, 507, "" + x);
  }
  if (!NC) jc = crc32(buf, jc);
  off += buf.length;
  buf = "";
  if (!last) return;
  c = NC ? E.CRC32(store.read(slot)) >>> 0 : jc;
  if (e = c != want ? "CRC-32 is " + hex(c) + ", not " + hex(want) : bad(slot)) return end(s, 422, e);
  up = 0;
  sw(slot, "web app updated: " + size + " bytes in " + slot);
  res(s, 200, { size: size, crc: hex(c), slot: slot }, ch);
}

// The client went away mid-upload (http.ts calls a socket's _z when it closes).
function gone(s: any) {
  if (up == s) end(0, 0, "upload cut off");
}

// An upload (PUT /api/web) or a roll-back (POST /api/web/rollback) from an allowed origin.
function update(s: any, q: Req) {
  var w = q.m, h = q.h, n = q.n, x = h["x-sprat-crc32"] || "",
    o = h.origin, c = P.origins && o ? "Access-Control-Allow-Origin: " + o + "\r\nVary: Origin\r\n" : "", i: number, k: number, d: number;
  if (!auth(q)) return res(s, 401, "authentication required", c + "WWW-Authenticate: Bearer\r\n");
  if (up && conns.indexOf(up) < 0) end(0, 0, "upload cut off"); // a 'close' that never came
  if (up) return res(s, 409, "an update is in progress", c);
  o = other();
  if (w == "POST") {
    if (x = bad(o)) return res(s, 409, "no app to roll back to: " + o + ": " + x, c);
    sw(o, "web app rolled back to " + o);
    return res(s, 200, info(o), c);
  }
  if (h["content-length"] == null) return res(s, 411, "Content-Length required", c);
  k = x.length < 9 ? hexAt(x, 0, x.length) : -1; // 1 to 8 hex digits
  if (h["x-sprat-size"] != "" + n || !n || k < 0) return res(s, 400, "X-Sprat-Size (= Content-Length) and X-Sprat-CRC32 (hex) required", c);
  if (n > P.storageSize) return res(s, 413, "at most " + P.storageSize + " bytes", c);
  // room for the slot and (later) the pointer file. Trash and the slot's old copy are
  // reclaimed by compacting now, before a byte is written, so that the switch never has to.
  i = al(n) + 64;
  if (i > (d = room(o))) return res(s, 507, "need " + i + " bytes, free " + d, c);
  if (store.getFree() < i) {
    store.erase(o);
    if (store.compact) store.compact();
    bump(); // files moved: responses in flight hold stale views of flash
  }
  up = s;
  slot = o;
  size = n;
  want = k;
  off = jc = 0;
  buf = "";
  ch = c;
  s._z = gone;
  if (tok(h.expect, "100-continue")) out(s, "HTTP/1.1 100 Continue\r\n\r\n");
  s._y = body;
  return 1;
}

// Without the feature (profile features.ota false) the web app changes only by upload:web.
if (P.ota) {
  // Other methods on these paths (OPTIONS preflights too) go on to the REST mirror.
  paths["/api/web"] = paths["/api/web/rollback"] = function (s: any, q: Req) {
    return q.m == (q.p == "/api/web" ? "PUT" : "POST") && originOk(q) && update(s, q);
  };

  method("web.info", function () {
    var o = other();
    // max: the largest ZIP an upload may send now
    return { active: active(), slots: [info(A), info(B)], free: store.getFree(), max: room(o) - 96 & ~7, rollback: !up && !bad(o) };
  }, true);

  // Boot: if power was lost while the pointer was being written (or it names a slot without a
  // valid app), point at a valid slot: the pointer's, else webFile, else the other one.
  (function () {
    var p = store.read(PTR), a = (p == A || p == B) && !bad(p) ? p : !bad(A) ? A : !bad(B) ? B : A;
    if ((p || A) != a) store.write(PTR, a);
  })();
}
