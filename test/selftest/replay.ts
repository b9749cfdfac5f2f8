// Replays the shared vector files (test/vectors/*.json) against src/core, the way the Node
// tests (test/core-*.test.ts) interpret them, in code that runs on Espruino, JerryScript
// and Duktape: ES5, no regular expressions, no Array.prototype/String.prototype look-ups,
// functions declared before use. Each vector is one check: run() returns "" when it
// passes, else a description of the first mismatch.
//
// Not replayed here (Node-only): the comparison with TextDecoder (utf8) and inflating
// deflated ZIP entries (zip: their CRC-32/Adler-32/size are checked against the expected
// content instead; stored entries are compared byte for byte).
import { HttpReader } from "../../src/core/http";
import { utf8 } from "../../src/core/utf8";
import { WsReader, header, closeFrame, validKey, acceptKey } from "../../src/core/ws";
import { zipIndex, zipEntry, zipData } from "../../src/core/zip";
import { crc, crc32, adler32 } from "../../src/core/wrap";

var HEX = "0123456789abcdef";

function fail(msg: string): never {
  throw new Error(msg);
}

function show(v: any): string {
  var s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 300 ? s.substr(0, 300) + "..." : s;
}

export function hex(s: string): string {
  var r = "", i = 0, c: number;
  for (; i < s.length; i++) {
    c = s.charCodeAt(i);
    r += HEX.charAt(c >> 4 & 15) + HEX.charAt(c & 15);
  }
  return r;
}

export function bin(h: string): string {
  var r = "", i = 0;
  for (; i < h.length; i += 2) r += String.fromCharCode(HEX.indexOf(h.charAt(i).toLowerCase()) * 16 + HEX.indexOf(h.charAt(i + 1).toLowerCase()));
  return r;
}

function has(o: any, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

// Deep equality of plain data (what assert.deepEqual checks for JSON values).
export function same(a: any, b: any): boolean {
  var ka: string[], kb: string[], i: number;
  if (a === b) return true;
  if (typeof a != "object" || typeof b != "object" || !a || !b) return false;
  if ((a instanceof Array) != (b instanceof Array)) return false;
  ka = Object.keys(a);
  kb = Object.keys(b);
  if (ka.length != kb.length) return false;
  for (i = 0; i < ka.length; i++) if (!has(b, ka[i]) || !same(a[ka[i]], b[ka[i]])) return false;
  return true;
}

function eq(got: any, want: any, what: string): void {
  if (!same(got, want)) fail(what + ": got " + show(got) + ", want " + show(want));
}

function copy(o: any): any {
  var r: any = {}, k = Object.keys(o), i = 0;
  for (; i < k.length; i++) r[k[i]] = o[k[i]];
  return r;
}

// One-byte pieces. substr, not charAt: on Espruino's Unicode builds (Linux) charAt/[i] of a
// byte >= 0x80 gives a UTF-8 string, and joining such strings gives one whose indexOf and
// substring disagree, which no socket ever delivers.
function chars(s: string): string[] {
  var a: string[] = [], i = 0;
  for (; i < s.length; i++) a.push(s.substr(i, 1));
  return a;
}

// distinct cut points (each modulo n + 1), ascending
function cutsOf(n: number, cuts: number[]): number[] {
  var a: number[] = [], i: number, j: number, x: number;
  for (i = 0; i < cuts.length; i++) {
    x = cuts[i] % (n + 1);
    for (j = 0; j < a.length && a[j] != x; j++);
    if (j == a.length) a.push(x);
  }
  a.sort(function (p, q) { return p - q; });
  return a;
}

function splitAt(s: string, cuts: number[]): string[] {
  var c = cutsOf(s.length, cuts), out: string[] = [], last = 0, i = 0;
  for (; i < c.length; i++) {
    out.push(s.substring(last, c[i]));
    last = c[i];
  }
  out.push(s.substring(last));
  return out;
}

// ---- HTTP (test/core-http.test.ts "vectors: every split and every server style")

// mode: how the server answers. "sync" calls next() from inside q()/b(), "deferred" after
// push() returns, "early" in q() even before the body came, "none" never.
function drive(lim: any, chunks: string[], mode: string): any {
  var r = new (HttpReader as any)(lim), reqs: any[] = [], st = 0, pend = false, fed = 0, at = -1,
    cur: any = null, i: number, h: any, done: () => void;
  done = function () {
    var x: number;
    if (mode == "sync") {
      x = r.next(h);
      if (x !== 0) fail("next() inside the handler returned " + x);
    } else if (mode == "deferred") pend = true;
  };
  h = {
    q: function (req: any) {
      if (cur && cur.body.length !== cur.n) fail("q() before the previous body ended");
      cur = copy(req);
      cur.h = copy(req.h);
      cur.body = "";
      reqs.push(cur);
      if (mode == "early") r.next(h);
      else if (!req.n) done();
    },
    b: function (d: string, end: boolean) {
      if (!(cur && cur.n > 0 && d.length > 0)) fail("b() without a body to read, or empty");
      cur.body += d;
      if (end !== (cur.body.length === cur.n)) fail("b() end flag " + end + " at " + cur.body.length + " of " + cur.n);
      if (cur.body.length > cur.n) fail("b() delivered more than Content-Length");
      if (end) done();
    }
  };
  for (i = 0; i < chunks.length; i++) {
    st = r.push(chunks[i], h);
    fed += chunks[i].length;
    while (!st && pend) {
      pend = false;
      st = r.next(h);
    }
    if (st) {
      at = fed;
      break;
    }
  }
  if (st) { // failed readers stay failed
    if (r.push("GET / HTTP/1.0\r\n\r\n", h) !== st) fail("push() after failure is not sticky");
    if (r.next(h) !== st) fail("next() after failure is not sticky");
  }
  return { st: st, reqs: reqs, at: at };
}

export function httpCase(V: any, c: any): void {
  var lim = c.lim || V.lim, modes = c.next === false ? ["none"] : ["sync", "deferred", "early"],
    splits = [[c["in"]], chars(c["in"]), splitAt(c["in"], [3, 17, 18, 40]), splitAt(c["in"], [1, 2, 5, 8, 13, 21, 34, 55, 89])],
    m: number, si: number, r: any, where: string;
  for (m = 0; m < modes.length; m++) {
    for (si = 0; si < splits.length; si++) {
      where = "[" + modes[m] + ", split " + si + "]";
      try { r = drive(lim, splits[si], modes[m]); } catch (e: any) { fail(where + " " + (e && e.message || e)); }
      eq(r.st, c.st, where + " status");
      eq(r.reqs, c.reqs, where + " requests");
      if (si == 1 && c.at !== undefined) eq(r.at, c.at, where + " detected at byte");
    }
  }
}

// ---- UTF-8 (test/core-utf8.test.ts "utf8 vector: ...")

export function utf8Case(c: any): void {
  var s = bin(c.input), want = c.expect == "ok" ? -1 : c.expect == "partial" ? -2 : c.expect,
    st = 0, at = -1, i: number, w: number;
  // one byte at a time: index of the rejecting byte, else -1 (ok) / -2 (partial)
  for (i = 0; i < s.length; i++) {
    if ((st = utf8(st, s, i, i + 1)) < 0) {
      at = i;
      break;
    }
  }
  if (at < 0 && st) at = -2;
  eq(at, want, "byte-at-a-time result");
  w = utf8(0, s, 0, s.length);
  eq(w < 0 ? "bad" : w === 0 ? "ok" : "partial", want >= 0 ? "bad" : c.expect, "whole-input result");
}

// ---- WebSocket (test/core-ws.test.ts "frames vector", header/closeFrame/validKey/acceptKey)

function normalize(ev: any[]): any[] {
  var out: any[] = [], cur: string | null = null, op = 0, i: number, e: any;
  for (i = 0; i < ev.length; i++) {
    e = ev[i];
    if (e[0] == "c") {
      out.push(["c", e[1], hex(e[2])]);
      continue;
    }
    if (cur === null) {
      cur = "";
      op = e[1];
    }
    if (e[1] !== op) fail("piece opcode " + e[1] + " is not that of the first fragment (" + op + ")");
    cur += e[2];
    if (e[3]) {
      out.push(["m", op, hex(cur)]);
      cur = null;
    }
  }
  return out;
}

function feed(input: string, max: number, cuts: number[], lim: number | undefined): any {
  var r = new (WsReader as any)(max, lim), ev: any[] = [], code = 0, from = 0, i: number, c: number, p: number,
    h = {
      msg: function (x: any, op: number, d: string, fin: boolean) { if (x !== h) fail("push's x not passed on"); ev.push(["m", op, d, fin]); },
      c: function (x: any, op: number, d: string) { if (x !== h) fail("push's x not passed on"); ev.push(["c", op, d]); }
    };
  for (i = 0; i <= cuts.length; i++) {
    p = i < cuts.length ? cuts[i] : input.length;
    c = r.push(input.substring(from, p), h, h);
    from = p;
    if (code && c !== code) fail("error code is not sticky: " + code + " then " + c);
    code = c;
  }
  return { code: code, ev: ev };
}

export function frameCase(v: any): void {
  var input = bin(v.input), every: number[] = [], sets: number[][], k: number, i: number, r: any;
  for (i = 0; i < input.length; i++) every.push(i);
  sets = [[], every, [1, 2, 7, 8, 15]];
  for (k = 0; k < sets.length; k++) {
    r = feed(input, v.max, cutsOf(input.length, sets[k]), v.lim);
    eq(r.code, v.expect.code, "code with cuts set " + k);
    eq(normalize(r.ev), v.expect.events, "events with cuts set " + k);
    if (v.max) for (i = 0; i < r.ev.length; i++) if (r.ev[i][0] == "m" && r.ev[i][3] !== true) fail("buffered mode delivered a partial message");
  }
}

export function headerCase(v: any): void {
  eq(hex(header(v.input.op, v.input.len, v.input.fin)), v.expect, "header");
}

export function closeCase(v: any): void {
  eq(hex(closeFrame(v.input.code, bin(v.input.reason))), v.expect, "closeFrame");
}

export function validKeyCase(v: any): void {
  eq(validKey(v.input), v.expect, "validKey");
}

export function acceptCase(v: any): void {
  eq(acceptKey(v.input), v.expect, "acceptKey");
}

// ---- ZIP (test/core-zip.test.ts "vectors: zip.json" and its extract())

export function zipCase(c: any): void {
  var z = bin(c.hex), n = z.length, idx: any, p: string, e: any, want: any, got: any, d: number, data: string,
    ps: string[], i: number, k: string[], files: any = {},
    rd = function (o: number, l: number): string { // Buffer.toString("latin1", o, o + l) clamping
      var t = o + l;
      if (o < 0) o = 0;
      if (t > n) t = n;
      return o < t ? z.substring(o, t) : "";
    };
  idx = zipIndex(rd, n);
  if (c.error) {
    eq(idx, c.error, "zipIndex error");
    return;
  }
  eq(idx, c.index, "zipIndex");
  ps = Object.keys(c.entries);
  for (i = 0; i < ps.length; i++) {
    p = ps[i];
    e = zipEntry(rd, c.index[p]);
    got = copy(e);
    got.data = zipData(rd, e.lh);
    eq(got, c.entries[p], "zipEntry/zipData of " + p);
  }
  // every indexed file: data where it says, checksums and size against the expected content
  k = Object.keys(idx);
  for (i = 0; i < k.length; i++) {
    p = k[i];
    e = zipEntry(rd, idx[p]);
    d = zipData(rd, e.lh);
    if (!(d > 0)) fail("no data offset for " + p);
    if (!has(c.files, p)) fail("unexpected file " + p);
    want = c.files[p];
    eq(e.u, want.length, "uncompressed size of " + p);
    eq(crc(want), e.crc, "crc() of " + p);
    eq(crc32(want.substr(want.length >> 1), crc32(want.substr(0, want.length >> 1))), e.crc, "incremental crc32 of " + p);
    if (e.a !== -1) eq(adler32(want.substr(7), adler32(want.substr(0, 7))), e.a, "adler32 of " + p);
    if (e.m === 0) {
      data = rd(d, e.c);
      eq(hex(data), hex(want), "stored data of " + p);
    }
    files[p] = 1;
  }
  eq(Object.keys(files).length, Object.keys(c.files).length, "file count");
}

// ---- all of them

export interface Result { passed: number; failed: number; failures: string[] }

// progress(name) is called before each vector (for finding a vector that hangs).
export function replayAll(V: any, progress?: (name: string) => void): Result {
  var res: Result = { passed: 0, failed: 0, failures: [] }, i: number,
    one = function (name: string, f: () => void) {
      if (progress) progress(name);
      try {
        f();
        res.passed++;
      } catch (e: any) {
        res.failed++;
        res.failures.push(name + ": " + (e && e.message || e));
      }
    },
    each = function (kind: string, list: any[], f: (v: any) => void) {
      for (i = 0; i < list.length; i++) one(kind + " " + list[i].name, (function (v: any) { return function () { f(v); }; })(list[i]));
    };
  each("http", V.http.cases, function (c) { httpCase(V.http, c); });
  each("utf8", V.utf8.cases, utf8Case);
  each("ws frames", V.ws.frames, frameCase);
  each("ws header", V.ws.header, headerCase);
  each("ws close", V.ws.close, closeCase);
  each("ws validKey", V.ws.validKey, validKeyCase);
  each("ws accept", V.ws.accept, acceptCase);
  each("zip", V.zip.cases, zipCase);
  return res;
}
