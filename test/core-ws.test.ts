import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import fc from "fast-check";
import { GUID, acceptKey, validKey, header, closeFrame, validCode, unmask, WsReader, type WsHandler } from "../src/core/ws.ts";
import { sha1, b64 } from "../src/core/sha1.ts";

const V = JSON.parse(readFileSync(new URL("./vectors/ws.json", import.meta.url), "utf8"));
const bin = (h: string) => Buffer.from(h, "hex").toString("latin1");
const hex = (s: string) => Buffer.from(s, "latin1").toString("hex");
const G = globalThis as any;

// ---- client side helpers -------------------------------------------------

type Ev = ["m", number, string, boolean] | ["c", number, string];

// Masked client frame (binary strings). Uses unmask() as the client-side mask.
function frame(op: number, payload: string, fin = true, key = "\x37\xfa\x21\x3d", o: { rsv?: number; mask?: boolean; form?: number } = {}): string {
  const n = payload.length, masked = o.mask !== false;
  const form = o.form ?? (n < 126 ? 7 : n < 65536 ? 16 : 64);
  const m = masked ? 128 : 0;
  let h = String.fromCharCode((fin ? 128 : 0) | (o.rsv ?? 0) << 4 | op);
  if (form === 7) h += String.fromCharCode(m | n);
  else if (form === 16) h += String.fromCharCode(m | 126, n >> 8, n & 255);
  else h += String.fromCharCode(m | 127, 0, 0, 0, 0, n >>> 24, n >> 16 & 255, n >> 8 & 255, n & 255);
  return masked ? h + key + unmask(payload, key) : h + payload;
}

// x: what push() is given after the handler, which every call must pass on
function recorder(x?: any) {
  const ev: Ev[] = [];
  const h: WsHandler = {
    msg: (y, op, d, fin) => { assert.equal(y, x, "push's x passed on"); ev.push(["m", op, d, fin]); },
    c: (y, op, p) => { assert.equal(y, x, "push's x passed on"); ev.push(["c", op, p]); },
  };
  return { ev, h };
}

// Join streaming pieces into whole messages; drop an unfinished trailing message.
function normalize(ev: Ev[]): (string | number)[][] {
  const out: (string | number)[][] = [];
  let cur: string | null = null, op = 0;
  for (const e of ev) {
    if (e[0] === "c") { out.push(["c", e[1], hex(e[2])]); continue; }
    if (cur === null) { cur = ""; op = e[1]; }
    assert.equal(e[1], op, "piece opcode stays that of the first fragment");
    cur += e[2];
    if (e[3]) { out.push(["m", op, hex(cur)]); cur = null; }
  }
  return out;
}

function feed(input: string, max: number, cuts: number[], lim?: number) {
  const x = { socket: 1 }, r = new (WsReader as any)(max, lim), { ev, h } = recorder(x);
  let code = 0, from = 0;
  for (const p of [...cuts, input.length]) {
    const c = r.push(input.substring(from, p), h, x);
    from = p;
    if (code) assert.equal(c, code, "error code is sticky");
    code = c;
  }
  return { code, ev, r, h };
}
const sortedCuts = (n: number, cuts: number[]) => [...new Set(cuts.map((c) => c % (n + 1)))].sort((a, b) => a - b);
const everyByte = (n: number) => Array.from({ length: n }, (_, i) => i);

// ---- shared vectors --------------------------------------------------------

for (const v of V.frames) {
  test(`frames vector: ${v.name}`, () => {
    const input = bin(v.input);
    for (const cuts of [[], everyByte(input.length), [1, 2, 7, 8, 15]]) {
      const { code, ev } = feed(input, v.max, sortedCuts(input.length, cuts), v.lim);
      assert.equal(code, v.expect.code, `code with cuts ${cuts.length}`);
      assert.deepEqual(normalize(ev), v.expect.events);
      if (v.max) for (const e of ev) if (e[0] === "m") assert.equal(e[3], true, "buffered mode delivers whole messages");
    }
  });
}

for (const v of V.header) test(`header vector: ${v.name}`, () => assert.equal(hex(header(v.input.op, v.input.len, v.input.fin)), v.expect));
for (const v of V.close) test(`closeFrame vector: ${v.name}`, () => assert.equal(hex(closeFrame(v.input.code, bin(v.input.reason))), v.expect));
test("validKey vectors", () => { for (const v of V.validKey) assert.equal(validKey(v.input), v.expect, v.name); });
test("acceptKey vectors (JS fallback in Node)", () => { for (const v of V.accept) assert.equal(acceptKey(v.input), v.expect, v.name); });

// ---- one test per rule -------------------------------------------------------

const run = (input: string, max = 1000, lim?: number) => feed(input, max, [], lim);

test("rule: unmasked client frame -> 1002", () => assert.equal(run(frame(1, "hi", true, "", { mask: false })).code, 1002));
test("rule: RSV1/RSV2/RSV3 set -> 1002", () => { for (const r of [1, 2, 4, 7]) assert.equal(run(frame(2, "x", true, undefined, { rsv: r })).code, 1002); });
test("rule: reserved opcodes 3-7, 11-15 -> 1002", () => { for (const op of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) assert.equal(run(frame(op, "x")).code, 1002, `op ${op}`); });
test("rule: control frame with FIN=0 -> 1002", () => { for (const op of [8, 9, 10]) assert.equal(run(frame(op, "", false)).code, 1002); });
test("rule: control frame payload > 125 -> 1002 from the header alone", () => {
  const f = frame(9, "x".repeat(126));
  assert.equal(run(f.substring(0, 2)).code, 1002, "decided after 2 bytes");
  assert.equal(run(frame(9, "x".repeat(125))).code, 0);
});
test("rule: continuation without a started message -> 1002", () => assert.equal(run(frame(0, "x")).code, 1002));
test("rule: new data frame while a fragmented message is open -> 1002", () => {
  assert.equal(run(frame(1, "a", false) + frame(2, "b")).code, 1002);
  assert.equal(run(frame(1, "a", false) + frame(9, "p") + frame(0, "b") + frame(2, "c")).code, 0, "after the message ended it is fine");
});
test("rule: invalid UTF-8 text -> 1007, fail-fast mid-frame before the frame completes", () => {
  const f = frame(1, "abc\xc0\xafdefghij");
  const cut = 2 + 4 + 4; // header + key + "abc\xc0"
  for (const max of [1000, 0]) {
    const { code, ev } = feed(f, max, [cut - 1, cut]);
    assert.equal(code, 1007);
    for (const e of ev) if (e[0] === "m") assert.ok(!e[2].includes("\xc0"), "invalid byte never delivered");
    // the byte \xc0 arrives at offset cut-1: the push containing it fails
    const r = new (WsReader as any)(max), { h } = recorder();
    assert.equal(r.push(f.substring(0, cut - 1), h), 0);
    assert.equal(r.push(f.substring(cut - 1, cut), h), 1007);
  }
});
test("rule: invalid UTF-8 across fragments -> 1007 (state carried over frames)", () => {
  assert.equal(run(frame(1, "\xe2\x82", false) + frame(0, "\xac")).code, 0);
  assert.equal(run(frame(1, "\xe2\x82", false) + frame(0, "A")).code, 1007);
  assert.equal(run(frame(1, "\xed", false) + frame(9, "p") + frame(0, "\xa0\x80")).code, 1007);
});
test("rule: incomplete UTF-8 at the end of a FIN frame -> 1007", () => {
  assert.equal(run(frame(1, "ok\xf0\x9f\x98")).code, 1007);
  assert.equal(run(frame(1, "ok\xf0\x9f\x98", false)).code, 0, "not yet: more fragments may follow");
  assert.equal(run(frame(2, "ok\xf0\x9f\x98")).code, 0, "binary is not validated");
});
test("rule: close payload of length 1 -> 1002", () => assert.equal(run(frame(8, "\x03")).code, 1002));
test("rule: close with invalid code -> 1002", () => {
  for (const c of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) assert.equal(run(frame(8, String.fromCharCode(c >> 8, c & 255))).code, 1002, `code ${c}`);
});
test("rule: close reason invalid UTF-8 -> 1007", () => {
  assert.equal(run(frame(8, "\x03\xe8\xed\xa0\x80")).code, 1007);
  assert.equal(run(frame(8, "\x03\xe8\xe2\x82")).code, 1007, "truncated character");
});
test("rule: buffered mode message over max -> 1009 as soon as the header declares it", () => {
  const f = frame(2, "x".repeat(300));
  assert.equal(feed(f, 299, [4]).code, 1009, "decided from the 16-bit length header, before the payload");
  assert.equal(run(frame(2, "x".repeat(200), false) + frame(0, "x".repeat(100)).substring(0, 6), 299).code, 1009, "total of fragments");
  assert.equal(run(frame(2, "x".repeat(200), false) + frame(0, "x".repeat(99)), 299).code, 0);
});
test("rule: lim caps the frame payload (streaming) -> 1009", () => {
  assert.equal(run(frame(2, "x".repeat(11)).substring(0, 6), 0, 10).code, 1009);
  assert.equal(run(frame(2, "x".repeat(10)), 0, 10).code, 0);
});
test("rule: 64-bit length with high word > 0x1FFFFF -> 1009", () => {
  const h = (hi: number) => "\x82\xff" + String.fromCharCode(hi >>> 24, hi >> 16 & 255, hi >> 8 & 255, hi & 255) + "\0\0\0\0" + "abcd";
  assert.equal(run(h(0x200000), 0).code, 1009);
  assert.equal(run(h(0x80000000), 0).code, 1009);
  assert.equal(run(h(0x1fffff), 0).code, 0);
});
test("rule: after an error, further pushes return the same code", () => {
  const r = new (WsReader as any)(1000), { h, ev } = recorder();
  assert.equal(r.push(frame(3, ""), h), 1002);
  assert.equal(r.push(frame(1, "ok"), h), 1002);
  assert.equal(ev.length, 0);
});
test("rule: after a close frame, further data is ignored (returns 0)", () => {
  const r = new (WsReader as any)(1000), { h, ev } = recorder();
  assert.equal(r.push(frame(8, "\x03\xe8") + frame(1, "x"), h), 0);
  assert.equal(r.push(frame(3, "garbage"), h), 0);
  assert.deepEqual(ev, [["c", 8, "\x03\xe8"]]);
});
test("streaming mode: pieces as they arrive, fin on the last (maybe empty) piece", () => {
  const f = frame(2, "abcdef", false) + frame(0, "");
  const { code, ev } = feed(f, 0, [8, 10]);
  assert.equal(code, 0);
  assert.deepEqual(ev, [["m", 2, "ab", false], ["m", 2, "cd", false], ["m", 2, "ef", false], ["m", 2, "", true]]);
});
test("control frames interleave with a buffered fragmented message", () => {
  const { ev } = run(frame(1, "a", false) + frame(9, "1") + frame(0, "b", false) + frame(10, "2") + frame(0, "c"));
  assert.deepEqual(ev, [["c", 9, "1"], ["c", 10, "2"], ["m", 1, "abc", true]]);
});

// ---- fast path (whole small frames at the start of a chunk) ---------------------------------

test("fast path: a frame exactly filling the chunk, two frames in one chunk", () => {
  const r = new (WsReader as any)(1000), { h, ev } = recorder();
  assert.equal(r.push(frame(1, "abcde"), h), 0);
  assert.equal(r.push(frame(2, "\x00\xff") + frame(1, "xyz"), h), 0);
  assert.deepEqual(ev, [["m", 1, "abcde", true], ["m", 2, "\x00\xff", true], ["m", 1, "xyz", true]]);
});
test("fast path: a frame plus a partial next one; the general reader finishes it, then small frames are fast again", () => {
  const f1 = frame(1, "first"), f2 = frame(2, "second!"), f3 = frame(1, "3rd"), f4 = frame(2, "4");
  for (let k = 1; k < f2.length; k++) {
    const r = new (WsReader as any)(1000), { h, ev } = recorder();
    assert.equal(r.push(f1 + f2.substring(0, k), h), 0);
    assert.deepEqual(ev, [["m", 1, "first", true]], `cut ${k}: only the whole frame so far`);
    assert.equal(r.push(f2.substring(k) + f3 + f4, h), 0);
    assert.deepEqual(ev, [["m", 1, "first", true], ["m", 2, "second!", true], ["m", 1, "3rd", true], ["m", 2, "4", true]], `cut ${k}`);
    assert.ok(!r._g && !Object.prototype.hasOwnProperty.call(r, "_g"), `cut ${k}: no state left behind`);
  }
});
test("fast path: protocol errors after a good frame in the same chunk", () => {
  const ok = frame(1, "ok");
  const cases: [string, number, number][] = [
    [frame(1, "hi", true, "", { mask: false }), 1002, 1000],
    [frame(1, "hi", true, undefined, { rsv: 4 }), 1002, 1000],
    [frame(2, "hi", false) + frame(1, "x"), 1002, 1000],
    [frame(1, "ab\xff"), 1007, 1000],
    [frame(1, "abcd\xc3"), 1007, 1000],
    [frame(2, "x".repeat(101)), 1009, 100],
  ];
  for (const [bad, code, max] of cases) {
    const r = new (WsReader as any)(max), { h, ev } = recorder();
    assert.equal(r.push(ok + bad + ok, h), code, `${hex(bad.substring(0, 2))} -> ${code}`);
    assert.deepEqual(ev.filter((e) => e[0] === "m" && e[3]), [["m", 1, "ok", true]], "the good frame before it only");
    assert.equal(r.push(ok, h), code, "sticky");
  }
});
test("fast path: limits below 126 bytes are still enforced (maxMessage 100, lim 10)", () => {
  assert.equal(run(frame(2, "x".repeat(100)), 100).code, 0);
  assert.equal(run(frame(2, "x".repeat(101)), 100).code, 1009);
  assert.equal(run(frame(2, "x".repeat(11)), 0, 10).code, 1009);
  assert.equal(run(frame(2, "x".repeat(10)) + frame(1, "y".repeat(10)), 0, 10).code, 0);
});

// ---- properties ----------------------------------------------------------------

type Item = { kind: "msg"; op: number; frags: string[]; pings: (string | null)[] } | { kind: "ping"; op: number; p: string };
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b).toString("latin1"));
const textBytes = fc.string({ unit: "binary", maxLength: 60 }).map((s) => Buffer.from(s, "utf8").toString("latin1"));
const ctrl = fc.record({ op: fc.constantFrom(9, 10), p: bytes(125) });
const msgArb: fc.Arbitrary<Item> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(1, 2), fc.array(fc.nat(), { maxLength: 4 }), fc.array(fc.option(ctrl.map((c) => c.p), { nil: null }), { maxLength: 4 }))
    .chain(([op, cuts, pings]) => (op === 1 ? textBytes : fc.oneof(textBytes, bytes(300))).map((payload) => [op, payload, cuts, pings] as const))
    .map(([op, payload, cuts, pings]) => {
      const pts = sortedCuts(payload.length, cuts);
      const frags: string[] = [];
      let from = 0;
      for (const p of [...pts, payload.length]) { frags.push(payload.substring(from, p)); from = p; }
      return { kind: "msg" as const, op: op === 1 ? 1 : 2, frags, pings };
    }) },
  { weight: 1, arbitrary: ctrl.map((c) => ({ kind: "ping" as const, op: c.op, p: c.p })) },
);
const keyArb = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => Buffer.from(b).toString("latin1"));

function encode(items: Item[], keys: string[]) {
  let out = "", k = 0;
  const want: (string | number)[][] = [];
  const key = () => keys[k++ % keys.length];
  for (const it of items) {
    if (it.kind === "ping") { out += frame(it.op, it.p, true, key()); want.push(["c", it.op, hex(it.p)]); continue; }
    it.frags.forEach((f, i) => {
      out += frame(i ? 0 : it.op, f, i === it.frags.length - 1, key());
      const p = it.pings[i];
      if (p != null && i < it.frags.length - 1) { out += frame(9, p, true, key()); want.push(["c", 9, hex(p)]); }
    });
    want.push(["m", it.op, hex(it.frags.join(""))]);
  }
  return { out, want };
}

test("property: random message sequences, random splits, both modes", () => {
  fc.assert(fc.property(fc.array(msgArb, { maxLength: 8 }), fc.array(keyArb, { minLength: 1, maxLength: 3 }), fc.array(fc.nat(), { maxLength: 12 }), fc.boolean(), (items, keys, cuts, oneByte) => {
    const { out, want } = encode(items, keys);
    const pts = oneByte ? everyByte(out.length) : sortedCuts(out.length, cuts);
    for (const max of [100000, 0]) {
      const { code, ev } = feed(out, max, pts);
      assert.equal(code, 0);
      assert.deepEqual(normalize(ev), want);
    }
  }), { numRuns: 400 });
});

test("property: large frames (16- and 64-bit lengths) at random splits", () => {
  fc.assert(fc.property(fc.constantFrom(65535, 65536, 70001), keyArb, fc.array(fc.nat(), { maxLength: 20 }), (n, key, cuts) => {
    const payload = randomBytes(n).toString("latin1");
    const out = frame(2, payload, true, key) + frame(9, "p", true, key);
    for (const max of [n, 0]) {
      const { code, ev } = feed(out, max, sortedCuts(out.length, cuts));
      assert.equal(code, 0);
      assert.deepEqual(normalize(ev), [["m", 2, hex(payload)], ["c", 9, hex("p")]]);
    }
    assert.equal(feed(out, n - 1, []).code, 1009);
  }), { numRuns: 15 });
});

test("property: invalid UTF-8 anywhere in a text message -> 1007 for any split", () => {
  const bad = fc.constantFrom("\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", "\x80", "\xe2\x82A");
  fc.assert(fc.property(textBytes, bad, textBytes, fc.array(fc.nat(), { maxLength: 3 }), fc.array(fc.nat(), { maxLength: 6 }), (a, b, c, fcuts, cuts) => {
    const s = a + b + c, pts = sortedCuts(s.length, fcuts);
    let out = "", from = 0;
    const ends = [...pts, s.length];
    ends.forEach((p, i) => { out += frame(i ? 0 : 1, s.substring(from, p), i === ends.length - 1); from = p; });
    for (const max of [100000, 0]) assert.equal(feed(out, max, sortedCuts(out.length, cuts)).code, 1007);
  }), { numRuns: 300 });
});

// ---- codec pieces --------------------------------------------------------------

test("unmask: fallback, chunked fallback and Espruino word path agree with a naive XOR", () => {
  const naive = (d: string, k: string, pos: number) => { let r = ""; for (let i = 0; i < d.length; i++) r += String.fromCharCode(d.charCodeAt(i) ^ k.charCodeAt((pos + i) & 3)); return r; };
  const shim = { toUint8Array: (s: string) => new Uint8Array(Buffer.from(s, "latin1")), toString: (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.length).toString("latin1") };
  const check = (d: string, k: string, pos: number) => {
    const want = naive(d, k, pos);
    const rk = (k + k).substr(pos, 4); // a reader mid-frame passes the key turned to its position
    assert.equal(unmask(d, rk), want);
    G.E = shim;
    try { assert.equal(unmask(d, rk), want); } finally { delete G.E; }
  };
  fc.assert(fc.property(bytes(40), keyArb, fc.integer({ min: 0, max: 3 }), check), { numRuns: 500 });
  for (const n of [4095, 4096, 4097, 9000, 70001]) check(randomBytes(n).toString("latin1"), "\x01\x80\xfe\xff", n & 3);
});

test("header lengths 0, 125, 126, 65535, 65536, 2^32+5", () => {
  assert.equal(hex(header(1, 0, true)), "8100");
  assert.equal(hex(header(1, 125, true)), "817d");
  assert.equal(hex(header(2, 126, true)), "827e007e");
  assert.equal(hex(header(2, 65535, true)), "827effff");
  assert.equal(hex(header(2, 65536, true)), "827f0000000000010000");
  assert.equal(hex(header(0, 4294967296 + 5, false)), "007f0000000100000005");
});

test("closeFrame: code 0/undefined -> empty payload; reason follows the code", () => {
  assert.equal(hex(closeFrame(0)), "8800");
  assert.equal(hex(closeFrame()), "8800");
  assert.equal(hex(closeFrame(1001)), "880203e9");
  assert.equal(hex(closeFrame(1009, "big")), "880503f1626967");
  // what we send must pass our own reader's checks
  const { ev } = run(frame(8, closeFrame(1000, "\xe2\x82\xac".repeat(60)).substring(2)));
  assert.equal(ev.length, 1);
});

test("validCode: Autobahn 7.7 valid and 7.9 invalid codes", () => {
  for (const c of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) assert.equal(validCode(c), true, `${c}`);
  for (const c of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) assert.equal(validCode(c), false, `${c}`);
});

test("sha1 and b64 match node:crypto / Buffer on random inputs", () => {
  fc.assert(fc.property(fc.oneof(bytes(200), fc.integer({ min: 50, max: 140 }).map((n) => "a".repeat(n))), (s) => {
    assert.equal(hex(sha1(s)), createHash("sha1").update(Buffer.from(s, "latin1")).digest("hex"));
    assert.equal(b64(s), Buffer.from(s, "latin1").toString("base64"));
  }), { numRuns: 1000 });
  assert.equal(hex(sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
});

test("acceptKey: JS sha1 + b64 fallback path (no btoa, no E)", async () => {
  const k = "dGhlIHNhbXBsZSBub25jZQ==";
  assert.equal(b64(sha1(k + GUID)), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  const saved = G.btoa;
  delete G.btoa;
  try {
    const w = await import(new URL("../src/core/ws.ts?nobtoa", import.meta.url).href);
    assert.equal(w.acceptKey(k), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  } finally { G.btoa = saved; }
});

test("acceptKey: native Espruino path (require('crypto').SHA1 -> ArrayBuffer, btoa(ArrayBuffer))", async () => {
  const saved = { E: G.E, require: G.require, btoa: G.btoa };
  let shaCalls = 0, reqCalls = 0;
  G.E = {};
  G.require = (n: string) => { reqCalls++; assert.equal(n, "crypto"); return { SHA1: (s: string) => { shaCalls++; const b = createHash("sha1").update(Buffer.from(s, "latin1")).digest(); return b.buffer.slice(b.byteOffset, b.byteOffset + 20); } }; };
  G.btoa = (x: any) => Buffer.from(x instanceof ArrayBuffer ? new Uint8Array(x) : Buffer.from(x, "latin1")).toString("base64");
  try {
    const w = await import(new URL("../src/core/ws.ts?native", import.meta.url).href);
    assert.equal(w.acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert.equal(w.acceptKey("AAAAAAAAAAAAAAAAAAAAAA=="), b64(sha1("AAAAAAAAAAAAAAAAAAAAAA==" + GUID)));
    assert.equal(shaCalls, 2);
    assert.equal(reqCalls, 1, "detected once");
  } finally { Object.assign(G, saved); if (saved.E === undefined) delete G.E; if (saved.require === undefined) delete G.require; }
});

test("acceptKey: board without crypto (require throws) falls back to JS", async () => {
  const saved = { E: G.E, require: G.require };
  G.E = {};
  G.require = () => { throw new Error("Module crypto not found"); };
  try {
    const w = await import(new URL("../src/core/ws.ts?nocrypto", import.meta.url).href);
    assert.equal(w.acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  } finally { delete G.E; if (saved.require === undefined) delete G.require; else G.require = saved.require; }
});
