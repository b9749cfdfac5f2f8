// Wire JSON on board builds: \u escapes of U+0080 and up become UTF-8 bytes, so that
// JSON.parse yields UTF-8 byte strings like the rest of the device's text.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { utf8Escapes } from "../src/core/json";

const bin = (s: string) => Buffer.from(s, "utf8").toString("latin1");

test("escapes of non-ASCII characters become their UTF-8 bytes; ASCII escapes stay", () => {
  assert.equal(utf8Escapes('{"m":"caf\\u00e9"}'), '{"m":"caf' + bin("é") + '"}');
  assert.equal(utf8Escapes('"\\u20AC \\ud83d\\ude80"'), '"' + bin("€ 🚀") + '"');
  assert.equal(utf8Escapes('"\\u0041\\n\\u001f"'), '"\\u0041\\n\\u001f"');
  assert.equal(utf8Escapes('"\\\\u00e9"'), '"\\\\u00e9"'); // an escaped backslash, then "u00e9"
  assert.equal(utf8Escapes('"\\\\\\u00e9"'), '"\\\\' + bin("é") + '"');
  assert.equal(utf8Escapes('"\\ud83d x"'), '"' + bin("\ufffd") + ' x"'); // lone surrogate
  assert.equal(utf8Escapes('"\\udc00"'), '"' + bin("\ufffd") + '"');
  assert.equal(utf8Escapes('"\\u12"'), '"\\u12"'); // malformed: left for JSON.parse to reject
  assert.equal(utf8Escapes('"\\u0e9z"'), '"\\u0e9z"'); // not 4 hex digits (parseInt would read 0xe9)
  assert.equal(utf8Escapes("plain"), "plain");
});

test("property: for any value, parse(utf8Escapes(JSON with \\u escapes)) equals the value as UTF-8 bytes", () => {
  const asciiJson = (v: unknown) => JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
  const toBytes = (v: any): any => typeof v == "string" ? bin(v) : Array.isArray(v) ? v.map(toBytes) :
    v && typeof v == "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [bin(k), toBytes(x)])) : v;
  fc.assert(fc.property(fc.jsonValue(), (v) => {
    assert.deepEqual(JSON.parse(utf8Escapes(asciiJson(v))), toBytes(JSON.parse(JSON.stringify(v))));
  }), { numRuns: 300 });
});

test("raw: JSON.stringify's \\u00XX escapes of bytes >= 0x80 become the bytes (board builds); others stay", () => {
  assert.equal(utf8Escapes('{"m":"caf\\u00c3\\u00a9"}', 1), '{"m":"caf\xc3\xa9"}');
  assert.equal(utf8Escapes('"\\u001f\\u007f\\u20ac"', 1), '"\\u001f\\u007f\\u20ac"');
  assert.equal(utf8Escapes('"\\\\u00e9 \\\\\\u00e9"', 1), '"\\\\u00e9 \\\\\xe9"');
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
    const s = Buffer.from(b).toString("latin1");
    // what a board build's JSON.stringify gives for a byte string
    const board = JSON.stringify(s).replace(/[\u007f-\u00ff]/g, (c) => "\\u00" + c.charCodeAt(0).toString(16));
    assert.equal(utf8Escapes(board, 1), JSON.stringify(s).replace(/\u007f/g, "\\u007f"));
  }), { numRuns: 300 });
});
