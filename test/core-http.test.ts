// src/core/http.ts: the plain-data vectors (test/vectors/http.json, replayable on other
// engines) in every split and server style, plus property tests.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { HttpReader, pct, norm, tok, reqLine, line, Limits } from "../src/core/http.ts";

const V = JSON.parse(readFileSync(new URL("./vectors/http.json", import.meta.url), "utf8"));
const BIG: Limits = { line: 8000, head: 1 << 20, hdrs: 100 };

// How the server answers: "sync" calls next() from inside q()/b(), "deferred" after push()
// returns, "early" calls next() in q() even before the body came, "none" never.
type Mode = "sync" | "deferred" | "early" | "none";

function drive(lim: Limits, chunks: string[], mode: Mode) {
  const r = new (HttpReader as any)(lim);
  const reqs: any[] = [];
  let st = 0, pend = false, fed = 0, at = -1, cur: any = null;
  const done = () => { if (mode === "sync") assert.equal(r.next(h), 0); else if (mode === "deferred") pend = true; };
  const h = {
    q(req: any) {
      assert.ok(!cur || cur.body.length === cur.n, "q() before the previous body ended");
      cur = { ...req, h: { ...req.h }, body: "" };
      reqs.push(cur);
      if (mode === "early") r.next(h);
      else if (!req.n) done();
    },
    b(d: string, end: boolean) {
      assert.ok(cur && cur.n > 0 && d.length > 0);
      cur.body += d;
      assert.equal(end, cur.body.length === cur.n);
      assert.ok(cur.body.length <= cur.n);
      if (end) done();
    },
  };
  for (const c of chunks) {
    st = r.push(c, h);
    fed += c.length;
    while (!st && pend) { pend = false; st = r.next(h); }
    if (st) { at = fed; break; }
  }
  if (st) { // failed readers stay failed
    assert.equal(r.push("GET / HTTP/1.0\r\n\r\n", h), st);
    assert.equal(r.next(h), st);
  }
  return { st, reqs, at, r };
}

const bytes = (s: string) => s.split("");
function splitAt(s: string, cuts: number[]) {
  const c = [...new Set(cuts.map((x) => x % (s.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let last = 0;
  for (const x of c) { out.push(s.slice(last, x)); last = x; }
  out.push(s.slice(last));
  return out;
}

test("vectors: every split and every server style", () => {
  for (const c of V.cases) {
    const lim = c.lim || V.lim;
    const modes: Mode[] = c.next === false ? ["none"] : ["sync", "deferred", "early"];
    const splits = [[c.in], bytes(c.in), splitAt(c.in, [3, 17, 18, 40]), splitAt(c.in, [1, 2, 5, 8, 13, 21, 34, 55, 89])];
    for (const mode of modes) {
      for (const [si, chunks] of splits.entries()) {
        const r = drive(lim, chunks, mode);
        const where = `${c.name} [${mode}, split ${si}]`;
        assert.equal(r.st, c.st, where);
        assert.deepEqual(r.reqs, c.reqs, where);
        if (si === 1 && c.at !== undefined) assert.equal(r.at, c.at, where + ": detected at byte");
      }
    }
  }
});

// ---- a model of valid requests

const TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const PCHAR = "abcXYZ019-._~!$&'()*+,;=:@";
const hex2 = (b: number, upper: boolean) => { const s = b.toString(16).padStart(2, "0"); return "%" + (upper ? s.toUpperCase() : s); };

function modelNorm(p: string): string | null {
  const o: string[] = [];
  const segs = p.split("/");
  for (const s of segs) {
    if (s === "..") { if (!o.length) return null; o.pop(); } else if (s && s !== ".") o.push(s);
  }
  const last = segs[segs.length - 1];
  return "/" + o.join("/") + (o.length && (last === "" || last === "." || last === "..") ? "/" : "");
}

// a path segment as [raw text, decoded bytes]
const atom = fc.oneof(
  fc.constantFrom(...PCHAR.split("")).map((ch) => [ch, ch]),
  fc.tuple(fc.integer({ min: 1, max: 255 }), fc.boolean()).map(([b, up]) => [hex2(b, up), String.fromCharCode(b)]),
);
const segment = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom([".", "."], ["..", ".."], ["%2e", "."], ["", ""]) },
  { weight: 6, arbitrary: fc.array(atom, { minLength: 1, maxLength: 6 }).map((a) => [a.map((x) => x[0]).join(""), a.map((x) => x[1]).join("")]) },
);
const ows = fc.constantFrom("", " ", "\t", "  ", " \t");
const value = fc.array(fc.oneof(fc.integer({ min: 0x21, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constant(32), fc.constant(9)), { maxLength: 12 })
  .map((a) => String.fromCharCode(...a).replace(/^[ \t]+|[ \t]+$/g, ""));
const eol = fc.constantFrom("\r\n", "\n");
const SPECIAL = ["host", "content-length", "transfer-encoding", "connection", "__proto__"];

const request = fc.record({
  m: fc.constantFrom("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"),
  segs: fc.array(segment, { maxLength: 5 }),
  query: fc.option(fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 10 })),
  v: fc.integer({ min: 0, max: 1 }),
  host: fc.option(value),
  conn: fc.option(fc.constantFrom("close", "keep-alive", "Keep-Alive, foo", "upgrade", "Upgrade, close")),
  hdrs: fc.uniqueArray(fc.tuple(fc.string({ unit: fc.constantFrom(...TCHAR.split("")), minLength: 1, maxLength: 8 }), ows, value, ows),
    { maxLength: 6, selector: (x) => x[0].toLowerCase() }).map((a) => a.filter((x) => !SPECIAL.includes(x[0].toLowerCase()))),
  body: fc.option(fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 40 })),
  zeros: fc.constantFrom("", "0", "00"),
  lead: fc.array(eol, { maxLength: 2 }),
  eols: fc.array(eol, { minLength: 12, maxLength: 12 }),
  perm: fc.integer(),
}).map((g) => {
  const path = "/" + g.segs.map((s) => s[0]).join("/");
  const p = modelNorm("/" + g.segs.map((s) => s[1]).join("/"));
  const fields: [string, string, string][] = g.hdrs.map(([n, a, v, b]) => [n, a + v + b, v]);
  if (g.v === 1 || g.host !== null) fields.push(["Host", " " + (g.host ?? "dev"), g.host ?? "dev"]);
  if (g.conn !== null) fields.push(["Connection", " " + g.conn, g.conn]);
  if (g.body !== null) fields.push(["Content-Length", " " + g.zeros + g.body.length, g.zeros + g.body.length]);
  // shuffle the field order
  let s = g.perm;
  for (let i = fields.length - 1; i > 0; i--) { s = (s * 1103515245 + 12345) | 0; const j = Math.abs(s) % (i + 1); [fields[i], fields[j]] = [fields[j], fields[i]]; }
  const u = path + (g.query !== null ? "?" + g.query : "");
  let text = g.lead.join("") + `${g.m} ${u} HTTP/1.${g.v}` + g.eols[0];
  fields.forEach((f, i) => { text += f[0] + ":" + f[1] + g.eols[i + 1]; });
  text += g.eols[11] + (g.body ?? "");
  const h: any = {};
  for (const f of fields) h[f[0].toLowerCase()] = f[2];
  const c = (g.conn || "").toLowerCase();
  const k = g.v ? !/\bclose\b/.test(c) : /keep-alive/.test(c) && !/\bclose\b/.test(c);
  const n = g.body ? g.body.length : 0;
  return { text, p, want: { m: g.m, u, p, q: g.query ?? "", v: g.v, h, n, k, body: g.body ?? "" } };
}).filter((r) => r.p !== null);

test("property: pipelined valid requests parse the same in any split", () => {
  fc.assert(fc.property(fc.array(request, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 12 }),
    fc.constantFrom<Mode>("sync", "deferred", "early"), (rs, cuts, mode) => {
      const s = rs.map((r) => r.text).join("");
      const want = rs.map((r) => r.want);
      for (const chunks of [[s], splitAt(s, cuts), bytes(s)]) {
        const r = drive(BIG, chunks, mode);
        assert.equal(r.st, 0);
        assert.deepEqual(r.reqs, want);
      }
    }), { numRuns: 300 });
});

// arbitrary input (valid, invalid, oversized): the outcome never depends on the split
const piece = fc.oneof(
  fc.constantFrom("GET", "POST", "PUT", "get", "BREW", " ", "  ", "/", "/a", "/../", "%2e", "%00", "%zz", "?x", "*", "http://h",
    "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "\r\n", "\n", "\r", "\r\n\r\n", "Host: a", "host:", ":", " : ", "\t", "Content-Length: 3",
    "Content-Length: 0", "Content-Length: x", "Transfer-Encoding: chunked", "Connection: close", "abc", "\0", "\u00ff"),
  fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 5 }),
);
const anyStream = fc.oneof(
  fc.array(piece, { maxLength: 40 }).map((a) => a.join("")),
  fc.tuple(fc.array(request, { minLength: 1, maxLength: 3 }), fc.array(piece, { maxLength: 8 }), fc.nat())
    .map(([rs, junk, at]) => { const s = rs.map((r) => r.text).join(""), i = at % (s.length + 1); return s.slice(0, i) + junk.join("") + s.slice(i); }),
);
// (the reader's contract: lim.line + 2 <= lim.head, so that a too-long request line is a 414
// whichever bytes have arrived)
const limits = fc.oneof(fc.constant(BIG), fc.record({ line: fc.integer({ min: 1, max: 60 }), head: fc.integer({ min: 0, max: 140 }), hdrs: fc.integer({ min: 0, max: 4 }) })
  .map((l) => ({ ...l, head: l.line + 2 + l.head })));

test("property: any input gives the same requests and status in any split; never throws", () => {
  fc.assert(fc.property(anyStream, limits, fc.array(fc.nat(), { maxLength: 10 }), (s, lim, cuts) => {
    const whole = drive(lim, [s], "sync");
    assert.ok([0, 400, 414, 431, 501, 505].includes(whole.st), String(whole.st));
    for (const chunks of [splitAt(s, cuts), bytes(s)]) {
      const r = drive(lim, chunks, "sync");
      assert.equal(r.st, whole.st);
      assert.deepEqual(r.reqs, whole.reqs);
    }
  }), { numRuns: 1000 });
});

test("property: 414 exactly when the request line exceeds lim.line, before its CRLF", () => {
  fc.assert(fc.property(fc.integer({ min: 10, max: 300 }), fc.integer({ min: 1, max: 400 }), fc.constantFrom("", "\r\n", "\n\r\n"), (L, len, lead) => {
    const line = "GET /" + "a".repeat(len);
    const r = drive({ line: L, head: 100000, hdrs: 10 }, bytes(lead + line), "sync");
    if (line.length > L) { assert.equal(r.st, 414); assert.equal(r.at, lead.length + L + 1); } else assert.equal(r.st, 0);
  }));
});

test("property: 431 as soon as an unterminated head reaches lim.head", () => {
  fc.assert(fc.property(fc.integer({ min: 20, max: 500 }), fc.integer({ min: 0, max: 600 }), (H, len) => {
    const s = "GET / HTTP/1.1\r\nX: " + "v".repeat(len);
    const r = drive({ line: 100, head: H, hdrs: 10 }, bytes(s), "sync");
    if (s.length >= H) { assert.equal(r.st, 431); assert.equal(r.at, H); } else assert.equal(r.st, 0);
  }));
});

test("property: 431 once there are more than lim.hdrs header lines, before the terminator", () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 12 }), (N, cnt) => {
    let s = "GET / HTTP/1.0\r\n";
    for (let i = 0; i < cnt; i++) s += `H${i}: x\r\n`;
    const r = drive({ line: 100, head: 10000, hdrs: N }, bytes(s + "\r\n"), "sync");
    if (cnt > N) { assert.equal(r.st, 431); assert.ok(r.at < s.length + 2); } else { assert.equal(r.st, 0); assert.equal(r.reqs.length, 1); }
  }));
});

test("rest(): the bytes after an Upgrade head, in any split", () => {
  const head = "GET /ws HTTP/1.1\r\nHost: d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  const frames = "\x81\x85\x01\x02\x03\x04ignoredGET / HTTP/1.1\r\n";
  fc.assert(fc.property(fc.array(fc.nat(), { maxLength: 8 }), (cuts) => {
    const r = drive({ line: 100, head: 1000, hdrs: 10 }, splitAt(head + frames, cuts), "none");
    assert.equal(r.st, 0);
    assert.equal(r.reqs.length, 1);
    assert.ok(tok(r.reqs[0].h.connection, "upgrade"));
    assert.equal(r.r.rest(), frames);
    assert.equal(r.r.rest(), "");
  }));
});

test("next() before the body arrived: the body is still read and skipped to the next head", () => {
  const got: string[] = [];
  const r = new (HttpReader as any)(BIG);
  const h = { q(req: any) { got.push("q" + req.p); r.next(h); }, b(d: string, e: boolean) { got.push("b" + d + (e ? "!" : "")); } };
  assert.equal(r.push("POST /a HTTP/1.0\r\nContent-Length: 4\r\n\r\nab", h), 0);
  assert.equal(r.push("cdGET /b HTTP/1.0\r\n\r\n", h), 0);
  assert.deepEqual(got, ["q/a", "bab", "bcd!", "q/b"]);
});

test("push() from inside q() is queued: requests are never delivered inside one another", () => {
  // (the whole-head fast path in push() must not bypass run()'s re-entry guard)
  const got: string[] = [];
  const r = new (HttpReader as any)(BIG);
  let depth = 0;
  const h = {
    q(req: any) {
      assert.equal(depth++, 0, "q() inside q()");
      got.push("q" + req.p);
      if (req.p === "/a") { assert.equal(r.next(h), 0); assert.equal(r.push("GET /b HTTP/1.1\r\nHost: d\r\n\r\n", h), 0); }
      else r.next(h);
      depth--;
    },
    b() { assert.fail("no body"); },
  };
  assert.equal(r.push("GET /a HTTP/1.1\r\nHost: d\r\n\r\n", h), 0);
  assert.deepEqual(got, ["q/a", "q/b"]);
  assert.equal(r.push("GET /c HTTP/1.1\r\nHost: d\r\n\r\n", h), 0);
  assert.deepEqual(got, ["q/a", "q/b", "q/c"]);
});

test("pct", () => {
  assert.equal(pct("/a%20b%2F%c3%A9"), "/a b/\u00c3\u00a9");
  for (const bad of ["%", "%4", "%g0", "%0g", "%1 ", "a%00", "a\0b", "%-1", "%+1"]) assert.equal(pct(bad), null, bad);
  fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 255 }), fc.integer({ min: 0, max: 2 }))), (a) => {
    const raw = String.fromCharCode(...a.map((x) => x[0]));
    const enc = a.map(([b, how]) => how === 0 && b !== 37 ? String.fromCharCode(b) : hex2(b, how === 1)).join("");
    assert.equal(pct(enc), raw);
  }));
});

test("norm", () => {
  const T: [string, string | null][] = [["/", "/"], ["", "/"], ["/a", "/a"], ["/a/", "/a/"], ["/a/./b", "/a/b"], ["/a/../b", "/b"],
    ["/a/b/..", "/a/"], ["/a/.", "/a/"], ["//a///b", "/a/b"], ["/..", null], ["/a/../..", null], ["/../a", null], ["/./", "/"],
    ["/a/..", "/"], ["/...", "/..."], ["/.a/..b", "/.a/..b"]];
  for (const [i, o] of T) assert.equal(norm(i), o, i);
  fc.assert(fc.property(fc.array(fc.constantFrom("", ".", "..", "a", "b", "..."), { maxLength: 8 }), (segs) => {
    const p = "/" + segs.join("/"), n = norm(p);
    assert.equal(n, modelNorm(p));
    if (n !== null) {
      assert.ok(n.startsWith("/") && !n.includes("//") && !/\/\.\.?(\/|$)/.test(n), n);
      assert.equal(norm(n), n);
    }
  }));
});

test("tok", () => {
  assert.ok(tok("Upgrade", "upgrade"));
  assert.ok(tok("keep-alive, Upgrade", "upgrade"));
  assert.ok(tok("keep-alive,Upgrade", "upgrade"));
  assert.ok(tok("keep-alive,  Upgrade ", "upgrade"));
  assert.ok(tok(" a ,\tB\t", "b"));
  assert.ok(!tok("upgrades", "upgrade"));
  assert.ok(!tok("xupgrade, upgradex, up grade", "upgrade"));
  assert.ok(!tok("keep-alive", "close"));
  assert.ok(!tok(undefined, "close"));
  assert.ok(!tok("", "close"));
  // against a model: the comma-separated elements, trimmed of SP/HTAB, compared lower-case
  fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom("", " ", "  ", "\t"), fc.constantFrom("upgrade", "Upgrade", "close", "keep-alive", "up", "xupgrade", "upgradex", "up grade", ""), fc.constantFrom("", " ", "\t")), { maxLength: 4 }),
    fc.constantFrom("upgrade", "close"), (els, t) => {
      const v = els.map(([a, e, b]) => a + e + b).join(",");
      assert.equal(tok(v, t), v.split(",").some((e) => e.replace(/^[ \t]+|[ \t]+$/g, "").toLowerCase() === t), JSON.stringify(v));
    }));
});

// The fast paths (one regex for the usual request line, one for the usual field line) must
// decide exactly as the general checks: same request or same status.
test("property: reqLine's fast path gives what the general request-line check gives", () => {
  const lines = ["GET / HTTP/1.1", "GET /a?b=c HTTP/1.0", "GET /a%20b HTTP/1.1", "GET /a/../b HTTP/1.1", "GET /../a HTTP/1.1", "GET //a HTTP/1.1",
    "GET /. HTTP/1.1", "OPTIONS * HTTP/1.1", "BREW / HTTP/1.1", "get / HTTP/1.1", "GET / HTTP/1.2", "GET / HTTP/2.0", "GET http://h/x HTTP/1.1",
    "GET /a b HTTP/1.1", "GET /\x7f HTTP/1.1", "GET /\xff HTTP/1.1", "PATCH /x? HTTP/1.1", "GET /?%zz HTTP/1.1", "GET /a/./ HTTP/1.0"];
  for (const l of lines) assert.deepEqual(reqLine(l), line(l), l);
  const part = fc.oneof(fc.constantFrom("GET", "HEAD", "POST", "BREW", "get", " ", "/", "//", "/.", "/..", "?", "%2e", "%", "*", "http://h", "HTTP/1.1", "HTTP/1.0",
    "HTTP/1.2", "HTTP/2.0", "a", "\t", "\x7f", "\x80", "\xff", "\0"), fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 3 }));
  fc.assert(fc.property(fc.constantFrom("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "BREW", "Get"), fc.array(part, { maxLength: 6 }),
    fc.constantFrom(" HTTP/1.1", " HTTP/1.0", " HTTP/1.2", " HTTP/2.0", " http/1.1", "  HTTP/1.1", " HTTP/1.1 "), (m, a, v) => {
      const l = m + " /" + a.join("") + v;
      assert.deepEqual(reqLine(l), line(l), JSON.stringify(l));
    }), { numRuns: 3000 });
});

test("property: a field line parses the same through the fast path (a whole head) and field() (byte by byte)", () => {
  const ch = fc.oneof(fc.constantFrom(" ", "\t", ":", "\x7f", "\x80", "\xff", "\0", "\x01", "\r", "\n", "a", "Z", "\"", ","), fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)));
  fc.assert(fc.property(fc.constantFrom("X-A", "x-a", "Host", "Accept", "__proto__", "constructor", "on", "A B", "", "Content-Length"),
    fc.constantFrom(":", ": ", ":  ", ":\t", " :"), fc.array(ch, { maxLength: 4 }), fc.constantFrom("", "v", "vw", "1"), fc.array(ch, { maxLength: 3 }),
    fc.boolean(), (n, c, pre, mid, post, twice) => {
      const f = n + c + pre.join("") + mid + post.join("");
      const s = "GET / HTTP/1.1\r\nHost: d\r\n" + f + "\r\n" + (twice ? f + "\r\n" : "") + "\r\n";
      const whole = drive(BIG, [s], "sync"), split = drive(BIG, bytes(s), "sync");
      assert.equal(whole.st, split.st, JSON.stringify(f));
      assert.deepEqual(whole.reqs, split.reqs, JSON.stringify(f));
    }), { numRuns: 3000 });
});
