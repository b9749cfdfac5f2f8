import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { utf8, utf8Encode, utf8Decode } from "../src/core/utf8.ts";

const G = globalThis as any;
// Just enough of Espruino's E for the native ASCII fast path (E.sum over typed-array views).
const ESHIM = {
  sum: (a: ArrayLike<number>) => { let t = 0; for (let i = 0; i < a.length; i++) t += a[i]; return t; },
  toArrayBuffer: (s: string) => new Uint8Array(Buffer.from(s, "latin1")).buffer,
};
const V = JSON.parse(readFileSync(new URL("./vectors/utf8.json", import.meta.url), "utf8"));
const bin = (h: string) => Buffer.from(h, "hex").toString("latin1");
const lat = (b: Uint8Array) => Buffer.from(b).toString("latin1");

// Feed one byte at a time; index of the rejecting byte, else -1 (ok) / -2 (partial).
function failAt(s: string): number {
  let st = 0;
  for (let i = 0; i < s.length; i++) if ((st = utf8(st, s, i, i + 1)) < 0) return i;
  return st ? -2 : -1;
}
// WHATWG decoder (fail-fast by spec): index of the first byte it rejects.
function whatwgFailAt(b: Uint8Array): number {
  const d = new TextDecoder("utf-8", { fatal: true });
  for (let i = 0; i < b.length; i++) {
    try { d.decode(b.subarray(i, i + 1), { stream: true }); } catch { return i; }
  }
  try { d.decode(); return -1; } catch { return -2; }
}
const expectOf = (e: string | number) => (e === "ok" ? -1 : e === "partial" ? -2 : e);

// bytes that are mostly UTF-8, with random damage: reaches the interesting paths more often than uint8Array alone
const utf8ish = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.array(fc.constantFrom(0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff), { maxLength: 24 }).map((a) => Uint8Array.from(a)),
  fc.tuple(fc.string({ unit: "binary", maxLength: 20 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 2 })).map(([s, muts]) => {
    const b = Buffer.from(s, "utf8");
    for (const [i, v] of muts) if (b.length) b[i % b.length] = v;
    return new Uint8Array(b);
  }),
);

for (const c of V.cases) {
  test(`utf8 vector: ${c.name}`, () => {
    const s = bin(c.input), want = expectOf(c.expect);
    assert.equal(failAt(s), want);
    const w = utf8(0, s, 0, s.length);
    assert.equal(w < 0 ? "bad" : w === 0 ? "ok" : "partial", want >= 0 ? "bad" : c.expect);
    assert.equal(whatwgFailAt(Buffer.from(c.input, "hex")), want, "vector agrees with TextDecoder");
  });
}

test("utf8 validates a sub-range only (from/to)", () => {
  const s = "\xff" + "\xce\xba" + "\xff";
  assert.equal(utf8(0, s, 1, 3), 0);
  assert.equal(utf8(0, s, 1, 2) > 0, true);
  assert.equal(utf8(0, s, 0, 3), -1);
});

test("utf8 agrees with TextDecoder(fatal) on random bytes", () => {
  fc.assert(fc.property(utf8ish, (b) => {
    let ok = true;
    try { new TextDecoder("utf-8", { fatal: true }).decode(b); } catch { ok = false; }
    assert.equal(utf8(0, lat(b), 0, b.length) === 0, ok);
  }), { numRuns: 3000 });
});

test("utf8 gives the same result for any split of the input", () => {
  fc.assert(fc.property(utf8ish, fc.array(fc.nat(), { maxLength: 6 }), (b, cuts) => {
    const s = lat(b), whole = utf8(0, s, 0, s.length);
    const pts = [...new Set(cuts.map((c) => (b.length ? c % (b.length + 1) : 0)))].sort((x, y) => x - y);
    let st = 0, from = 0;
    for (const p of [...pts, s.length]) {
      if (st < 0) break;
      st = utf8(st, s, from, p);
      from = p;
    }
    assert.equal(st < 0 ? -1 : st === 0 ? 0 : 1, whole < 0 ? -1 : whole === 0 ? 0 : 1);
    if (whole > 0) assert.equal(st, whole);
  }), { numRuns: 3000 });
});

test("utf8 fails fast: rejects exactly at the first byte TextDecoder(stream) rejects", () => {
  fc.assert(fc.property(utf8ish, (b) => {
    assert.equal(failAt(lat(b)), whatwgFailAt(b));
  }), { numRuns: 3000 });
});

test("utf8Encode matches Buffer (incl. astral and lone surrogates)", () => {
  fc.assert(fc.property(fc.oneof(
    fc.string({ unit: "binary", maxLength: 30 }),
    fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 30 }).map((a) => String.fromCharCode(...a)),
  ), (s) => {
    assert.equal(utf8Encode(s), Buffer.from(s, "utf8").toString("latin1"));
  }), { numRuns: 2000 });
});

test("utf8Encode returns ASCII input unchanged", () => {
  const s = '{"a":[1,2,3],"b":"x"}';
  assert.equal(utf8Encode(s), s);
  assert.equal(utf8Encode(""), "");
});

test("utf8Decode inverts utf8Encode", () => {
  fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 30 }), (s) => {
    const e = utf8Encode(s);
    assert.equal(utf8(0, e, 0, e.length), 0);
    assert.equal(utf8Decode(e), s);
    assert.equal(utf8Decode(e), Buffer.from(e, "latin1").toString("utf8"));
  }), { numRuns: 2000 });
});

test("utf8 with Espruino's E.sum fast path agrees with the JS path", () => {
  const long = fc.tuple(fc.array(utf8ish, { maxLength: 6 }), fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 6 })).map(([parts, pads]) => {
    const chunks: Buffer[] = [];
    parts.forEach((p, i) => chunks.push(Buffer.alloc(pads[i] ?? 0, 0x61), Buffer.from(p)));
    return new Uint8Array(Buffer.concat(chunks));
  });
  fc.assert(fc.property(long, fc.nat(), (b, cut) => {
    const s = lat(b), k = b.length ? cut % (b.length + 1) : 0;
    const split = () => { const st = utf8(0, s, 0, k); return st < 0 ? st : utf8(st, s, k, s.length); };
    const js = [utf8(0, s, 0, s.length), failAt(s), split()];
    G.E = ESHIM;
    try { assert.deepEqual([utf8(0, s, 0, s.length), failAt(s), split()], js); } finally { delete G.E; }
  }), { numRuns: 2000 });
  G.E = ESHIM;
  try {
    for (const c of V.cases) assert.equal(failAt(bin(c.input)), expectOf(c.expect), c.name);
    const big = "x".repeat(5000) + "\xc3\xa9" + "y".repeat(3000) + "\xed\xa0\x80";
    assert.equal(utf8(0, big, 0, 8002), 0);
    assert.equal(utf8(0, big, 0, big.length), -1);
  } finally { delete G.E; }
});
