// Access control (docs/security.md): an optional device password and session tokens.
//
// No password set (no Storage file auth.json): everything stays open, as without this module.
// With one, a token from auth.login is needed for every method not registered read-only
// (with the profile's publicRead false: for every method), so for REST POSTs, settings, the
// web-app upload and roll back (ota.ts), and auth.setPassword. auth.login is always open.
//   REST:      Authorization: Bearer <token>
//   WebSocket: auth.login on the socket ({password}, or {token} to resume a session on a new
//              socket) marks that socket; later calls on it need no token
// auth.json holds {salt, hash, iter}: hash = H(... H(H(salt + pw) + salt + pw) ...), iter
// rounds of SHA-256 where the firmware has it (require("crypto").SHA256), else SHA-1 (the JS
// one only for profiles with nativeSha1 false), base64. The password itself is never stored.
import { Req } from "../core/http";
import { sha1 } from "../core/sha1";
import { store, now } from "./http";
import { method, rpcError, guard } from "./rpc";
import * as P from "sprat:profile";

export var FILE = "auth.json";
var ITER = 100, MAX = 8; // hash rounds for a new password; 2 × the sessions kept (4)

// cfg: auth.json (0: no password); toks: [token, expiry, ...]; fails/until: the login backoff;
// ev: request timing mixed into randomness; sd: the randomness pool (every token chains it);
// last: the token that authorised the call being run.
var cfg: any = 0, toks: any[] = [], fails = 0, until = 0, ev = 0, sd = "", last: any;

var C: any; // require("crypto"), once

function H(s: string): string {
  if (!P.nativeSha1) return btoa(sha1(s)); // (Kaluma has btoa too)
  C = C || require("crypto");
  return btoa((C.SHA256 || C.SHA1)(s));
}

function digest(salt: string, pw: string, n: number): string {
  for (var h = "", i = 0; i < n; i++) h = H(h + salt + pw);
  return h;
}

// Randomness: E.hwRand is ADC noise on STM32 boards but the same unseeded PRNG as
// Math.random on ESP32, ESP8266 and Linux (identical after every boot), so each token also
// hashes in the password (secret), the clock, the timing of past requests and every earlier
// token. Feature-detected: SAVE_ON_FLASH builds and other runtimes lack E.hwRand.
function fresh(x: string): string {
  return sd = H(sd + x + (typeof E != "undefined" && E.hwRand ? E.hwRand() : "") + Math.random() + now() + ev);
}

/** 1 if a (anything) equals b (a string), comparing every char of b whatever differs. */
function same(a: any, b: string): number {
  var s = typeof a == "string" ? a : "", d = s.length == b.length ? 0 : 1, i = 0;
  for (; i < b.length; i++) d |= s.charCodeAt(i) ^ b.charCodeAt(i); // NaN past the end: 0
  return d ? 0 : 1;
}

/** 1 if t is a live session token; expired ones are dropped. */
function valid(t: any): number {
  var i = 0, ok = 0, n = now();
  while (i < toks.length) {
    if (toks[i + 1] < n) toks.splice(i, 2);
    else { ok |= same(t, toks[i]); i += 2; }
  }
  return ok;
}

function bearer(q?: Req): any {
  var a = q && q.h.authorization || "";
  return a.substr(0, 7).toLowerCase() == "bearer " ? a.substr(7) : 0;
}

/**
 * Throws unless pw is the password (or none is set). Failures back off: two are free, then
 * 1, 2, 4 ... 60 s during which every login is refused unchecked. The backoff is global:
 * Espruino's sockets have no peer address (docs/security.md: the lock-out trade-off).
 */
function check(pw: any) {
  var t = now();
  if (t < until) throw rpcError(-32003, "too many failed logins", { retryIn: Math.ceil((until - t) / 1000) });
  if (!cfg || typeof pw == "string" && same(digest(cfg.salt, pw, cfg.iter), cfg.hash)) return fails = 0;
  fails++;
  until = t + (fails < 3 ? 0 : fails < 9 ? 1000 << fails - 3 : 60000);
  throw rpcError(-32001, "wrong password");
}

/** A new session token (the oldest of 4 goes); c: the WebSocket to mark, 0 over REST. */
function issue(c: any, pw: string) {
  var t = fresh(pw + (cfg && cfg.salt)).substr(0, 24);
  if (toks.length >= MAX) toks.splice(0, 2);
  toks.push(t, now() + P.tokenTtl);
  if (c) c._tk = t;
  return { token: t, ttl: P.tokenTtl };
}

/** May request q change the web app? (ota.ts) A password set means a valid Bearer token. */
export function allowed(q: Req): any {
  return !P.auth || !cfg || valid(bearer(q));
}

/**
 * Writes a small Storage file only if it fits: Storage removes the old file before it finds
 * room for the new one, so a write that fails would lose both. Throws rpcError -32004
 * (REST 507) instead, everything left as it was.
 */
export function save(n: string, d: string) {
  // Espruino's rule (jsflash.c): a new file (data padded to 8, a 32-byte header) needs more
  // than the free space plus the DATA of removed files (their headers are not counted)
  var st = store.getStats ? store.getStats() : 0, z = store.read(n), ok: any,
    free = (st ? st.freeBytes + st.trashBytes - 40 * st.trashCount : store.getFree()) + (z ? z.length : 0), need = (d.length + 7 & ~7) + 32;
  try { ok = free > need && store.write(n, d); } catch (e) { }
  if (!ok) throw rpcError(-32004, "Storage is full: " + n + " not saved", { need: need, free: free });
}

// Without the feature (profile features.auth false) none of this is bundled: no password,
// every call open, as with no auth.json.
if (P.auth) {
  // Every call goes through here (rpc.ts): read: registered read-only (or a built-in topic
  // call), c: the WebSocket (0 over REST), q: the REST request.
  guard(function (name: string, read: boolean, c: any, q?: Req) {
    last = c ? c._tk : bearer(q);
    ev = (ev * 31 + now() * 1000) % 1e9;
    if (!cfg || read && P.publicRead || name == "auth.login" || valid(last)) return 0;
    return rpcError(-32001, "authentication required");
  });

  method("auth.login", function (p: any, c: any) {
    var w = p && p.password;
    if (p && p.token !== undefined) {
      // a session resumed on a new socket (the dashboard after a reconnect)
      if (!valid(p.token)) throw rpcError(-32001, "invalid or expired token");
      if (c) c._tk = p.token;
      return { token: p.token };
    }
    check(w);
    return issue(c, w);
  });

  method("auth.logout", function (p: any, c: any) {
    var i = toks.indexOf(last);
    if (i >= 0) toks.splice(i, 2);
    if (c) {
      delete c._tk;
      if (!P.publicRead) delete c._s; // its topics were read with the token
    }
    return true;
  });

  method("auth.setPassword", function (p: any, c: any) {
    var w = p && p["new"], s: string, n: any;
    if (typeof w != "string" || w.length > 64) throw rpcError(-32602, "invalid params", { "new": "at most 64 bytes; empty: no password" });
    check(p.old);
    if (!w) {
      store.erase(FILE);
      cfg = 0;
      toks = [];
      return null;
    }
    s = fresh("").substr(0, 16);
    n = { salt: s, hash: digest(s, w, ITER), iter: ITER };
    save(FILE, JSON.stringify(n));
    cfg = n;
    toks = []; // a new password ends every session but the caller's new one
    return issue(c, w);
  });

  // Boot: a corrupt auth.json (a torn write) fails closed: nothing but read methods and
  // logins, which all fail, until it is erased over the console (docs/security.md).
  (function () {
    var r = store.read(FILE);
    if (r === undefined) return;
    try { cfg = JSON.parse(r); } catch (e) { }
    if (!cfg || typeof cfg.hash != "string") {
      cfg = { hash: "!" };
      console.log("sprat: " + FILE + " is corrupt: logins refused until it is erased");
    }
  })();
}
