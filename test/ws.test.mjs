// sprat's own WebSocket conformance suite (RFC 6455, the rules Autobahn|Testsuite's
// fuzzingclient cases 1-10 check), over raw TCP on 127.0.0.1 with hand-written frames
// (test/helpers/ws-frames.mjs, ws-client.mjs), on every available runtime: the emulator and
// the Kaluma emulator always, Espruino for Linux with ESPRUINO_BIN (else one skip line).
//
// The bundle is the real device app built through the real pipeline from board-profiles/
// host.json (emulator), linux.json (espruino) or kaluma-picow.json (kaluma-emu, plus /echo
// and 15 clients), with the limits in test/helpers/ws-server.mjs's LIMITS (1 s ping
// interval, 800 ms pong/close timeouts, 4096-byte maxMessage, 1024-byte wsQueue, 50 ms
// telemetry). /echo (streamed delivery) carries the
// frame rules, /ws (buffered delivery, JSON-RPC) the message-size and messaging rules.
//
// Every failure test asserts the exact close code of the server's close frame AND that the
// server then closes TCP. Known server bugs are tests marked { todo: "server bug: ..." }.
// The slow-client tests need Linux's /proc/net/tcp and python3 (test/fixtures/ws/
// tcp-relay.py); without them they are skipped with one line.
//
// Run: node --test test/ws.test.mjs
//      ESPRUINO_BIN=/path/to/espruino node --test test/ws.test.mjs
//      SPRAT_SLOW=1 ...: the Autobahn 9.* class at 16 MB on every runtime (by default 16 MB
//      on the emulator, 4 MB on Espruino, which echoes 0.2-0.4 MB/s: 16 MB takes 40-90 s)
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { runtimes } from "../tools/runtimes.mjs";
import { LIMITS, ROOT, buildTestBundle, startServer } from "./helpers/ws-server.mjs";
import { Conn, openWs, httpExchange, buildRequest, upgradeHeaders, wsKey, acceptFor } from "./helpers/ws-client.mjs";
import * as F from "./helpers/ws-frames.mjs";
import { tcpInfo, canReadProcTcp } from "./helpers/ws-tcpinfo.mjs";

const { OP } = F;
const SLOW = process.env.SPRAT_SLOW === "1";
const UTF8 = JSON.parse(fs.readFileSync(path.join(ROOT, "test/vectors/utf8.json"), "utf8")).cases;
const KOSME = Buffer.from("cebae1bdb9cf83cebcceb5", "hex"); // κόσμε
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hasPython = () => spawnSync(process.env.PYTHON || "python3", ["-c", "import signal, socket; socket.TCP_MAXSEG, signal.SIGUSR1"]).status === 0;
const isUtf8 = (b) => { try { new TextDecoder("utf-8", { fatal: true }).decode(b); return true; } catch { return false; } };

// test/ws-kaluma.test.mjs runs this suite on kaluma-emu in a process of its own (node's
// --test-timeout is per file, and two runtimes' worth of this suite comes close to it)
const ONLY = globalThis.SPRAT_WS_RUNTIME;
const RTS = runtimes().filter((r) => (ONLY ? r.name === ONLY : r.name !== "kaluma-emu"));
RTS.missing = ONLY ? [] : runtimes().missing;
for (const m of RTS.missing) test(`WebSocket conformance on ${m.name}`, { skip: m.skipReason }, () => {});
// build every runtime's bundle at once (about 4 s each); each suite awaits its own
const BUILDS = Object.fromEntries(RTS.map((r) => {
  const p = buildTestBundle(r);
  p.catch(() => {}); // reported by the suite's before()
  return [r.name, p];
}));

for (const r of RTS) describe(`WebSocket on ${r.name}`, () => {
  let rt, port;
  before(async () => {
    await BUILDS[r.name];
    rt = await startServer(r);
    port = rt.port;
  });
  after(async () => { if (rt) await rt.stop(); });

  /** An open WebSocket on path, destroyed when the test ends. */
  async function ws(t, opts = {}) {
    const { conn, res } = await openWs(port, { path: "/echo", ...opts });
    t.after(() => conn.destroy());
    conn.res = res;
    return conn;
  }

  /** The server's close frame has this code, is well-formed, and TCP closes after it. */
  async function expectClose(conn, code, { ms = 5000, what = "" } = {}) {
    const c = await conn.closing(ms);
    const reason = c.reason.toString("utf8");
    assert.equal(c.code, code, `${what}close code ${c.code} (reason "${reason}"), expected ${code}`);
    assert.ok(c.frame.fin && !c.frame.masked && !c.frame.rsv, "the close frame is a plain final frame");
    assert.ok(isUtf8(c.reason), "its reason is UTF-8");
    assert.ok(c.tcpClosed, `${what}the server closes TCP after its close frame`);
    return c;
  }

  /** Frames until `n` data messages are complete; pongs (and other controls) collected too. */
  async function collect(conn, n, ms = 5000) {
    const t0 = performance.now(), messages = [], controls = [];
    let op = 0, parts = [];
    while (messages.length < n) {
      const f = await conn.frame(Math.max(1, ms - (performance.now() - t0)));
      assert.ok(!f.masked && !f.rsv, "server frames are unmasked, without RSV bits");
      if (f.op >= 8) {
        if (f.op === OP.close) throw new Error(`close ${F.parseClose(f.payload).code} before ${n} messages`);
        controls.push(f);
        continue;
      }
      if (!op) { assert.ok(f.op === OP.text || f.op === OP.binary, `a message starts with opcode ${f.op}`); op = f.op; }
      else assert.equal(f.op, OP.cont, "continuation frames inside a message");
      parts.push(f.payload);
      if (f.fin) { messages.push({ op, data: Buffer.concat(parts) }); op = 0; parts = []; }
    }
    return { messages, controls };
  }

  async function echoes(conn, op, payload, ms) {
    const m = await conn.message(ms);
    assert.equal(m.op, op, "same opcode");
    assert.equal(m.data.length, payload.length, "same length");
    assert.ok(m.data.equals(payload), "same bytes");
    return m;
  }

  // ------------------------------------------------------------------ handshake

  describe("handshake", () => {
    const upgrade = (opts = {}) => buildRequest({ path: opts.path || "/echo", method: opts.method, httpVersion: opts.httpVersion, headers: opts.headers || upgradeHeaders(port, opts) });

    test("valid request → 101 with the right Sec-WebSocket-Accept, no body", async (t) => {
      const key = wsKey();
      const conn = await Conn.connect(port);
      t.after(() => conn.destroy());
      await conn.write(Buffer.from(upgrade({ key })));
      const res = await conn.response();
      assert.equal(res.status, 101);
      assert.equal(res.headers.upgrade.toLowerCase(), "websocket");
      assert.ok(res.headers.connection.toLowerCase().split(/\s*,\s*/).includes("upgrade"));
      assert.equal(res.headers["sec-websocket-accept"], acceptFor(key));
      assert.equal(res.headers["content-length"], undefined);
      // the RFC 6455 §1.3 example key, byte for byte
      const c2 = await Conn.connect(port);
      t.after(() => c2.destroy());
      await c2.write(Buffer.from(upgrade({ key: "dGhlIHNhbXBsZSBub25jZQ==" })));
      assert.equal((await c2.response()).headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
      await sleep(50);
      assert.equal(conn.body, undefined, "nothing but frames after the head");
      assert.equal(conn.queue.length, 0, "no frame unasked");
    });

    test("Connection: keep-alive, Upgrade (Firefox) is accepted", async (t) => {
      const key = wsKey();
      const h = upgradeHeaders(port, { key }).map(([k, v]) => (k === "Connection" ? [k, "keep-alive, Upgrade"] : [k, v]));
      const conn = await ws(t, { headers: h, key });
      await conn.write(F.text("ff"));
      await echoes(conn, OP.text, Buffer.from("ff"));
    });

    test("header names and values are case-insensitive", async (t) => {
      const key = wsKey();
      const h = [["hOST", `127.0.0.1:${port}`], ["UPGRADE", "WebSocket"], ["connection", "UPGRADE"],
        ["sec-websocket-key", key], ["SEC-WEBSOCKET-VERSION", "13"]];
      const conn = await ws(t, { headers: h, key });
      await conn.write(F.text("ci"));
      await echoes(conn, OP.text, Buffer.from("ci"));
    });

    test("Sec-WebSocket-Version other than 13 (or none) → 426 with Sec-WebSocket-Version: 13", async () => {
      for (const version of ["8", "12", "14", "", null]) {
        const headers = upgradeHeaders(port, { version }).filter(([k, v]) => v !== null);
        const res = await httpExchange(port, upgrade({ headers }));
        assert.equal(res.status, 426, `version ${JSON.stringify(version)}`);
        assert.equal(res.headers["sec-websocket-version"], "13");
        assert.ok(res.tcpClosed, "connection closed");
      }
    });

    test("a Sec-WebSocket-Key that is not base64 of 16 bytes → 400", async () => {
      const keys = ["not a key", crypto.randomBytes(15).toString("base64"), crypto.randomBytes(17).toString("base64"),
        crypto.randomBytes(16).toString("hex"), "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZ-==", "", null];
      for (const key of keys) {
        const headers = upgradeHeaders(port).map(([k, v]) => [k, k === "Sec-WebSocket-Key" ? key : v]).filter(([, v]) => v !== null);
        const res = await httpExchange(port, upgrade({ headers }));
        assert.equal(res.status, 400, `key ${JSON.stringify(key)}`);
        assert.ok(res.tcpClosed, "connection closed");
      }
    });

    test("POST with upgrade headers → 400", async () => {
      const res = await httpExchange(port, upgrade({ method: "POST" }));
      assert.equal(res.status, 400);
      assert.ok(res.tcpClosed);
    });

    test("HTTP/1.0 → 400", async () => {
      const res = await httpExchange(port, upgrade({ httpVersion: "1.0" }));
      assert.equal(res.status, 400);
      assert.ok(res.tcpClosed);
    });

    test("a foreign Origin → 403", async () => {
      for (const origin of ["http://evil.example", `http://127.0.0.1:${port + 1}`, "null"]) {
        const res = await httpExchange(port, upgrade({ origin }));
        assert.equal(res.status, 403, `Origin: ${origin}`);
        assert.ok(res.tcpClosed);
      }
    });

    test("the page's own Origin is accepted", async (t) => {
      const conn = await ws(t, { origin: `http://127.0.0.1:${port}` });
      await conn.write(F.text("same"));
      await echoes(conn, OP.text, Buffer.from("same"));
    });

    test("no Origin (not a browser) is accepted", async (t) => {
      const conn = await ws(t);
      assert.equal(conn.res.status, 101);
      await conn.write(F.text("none"));
      await echoes(conn, OP.text, Buffer.from("none"));
    });

    test('subprotocol: offering "x, sprat.v1" on /ws selects exactly "sprat.v1"', async (t) => {
      const conn = await ws(t, { path: "/ws", protocol: "x, sprat.v1" });
      assert.equal(conn.res.headers["sec-websocket-protocol"], "sprat.v1");
      const c2 = await ws(t, { path: "/ws", headers: upgradeHeaders(port, { key: "dGhlIHNhbXBsZSBub25jZQ==", extra: [["Sec-WebSocket-Protocol", "x"], ["Sec-WebSocket-Protocol", "sprat.v1"]] }), key: "dGhlIHNhbXBsZSBub25jZQ==" });
      assert.equal(c2.res.headers["sec-websocket-protocol"], "sprat.v1", "also offered as two header lines");
    });

    test('subprotocol: offering only "x" on /ws → no Sec-WebSocket-Protocol', async (t) => {
      const conn = await ws(t, { path: "/ws", protocol: "x" });
      assert.equal(conn.res.headers["sec-websocket-protocol"], undefined);
      const c2 = await ws(t, { path: "/ws" });
      assert.equal(c2.res.headers["sec-websocket-protocol"], undefined, "none offered: none selected");
    });

    test("subprotocol: /echo selects none, whatever is offered", async (t) => {
      const conn = await ws(t, { protocol: "sprat.v1, echo" });
      assert.equal(conn.res.headers["sec-websocket-protocol"], undefined);
    });

    test("extensions offered (permessage-deflate) are declined: no Sec-WebSocket-Extensions", async (t) => {
      const key = wsKey();
      const conn = await ws(t, { key, headers: upgradeHeaders(port, { key, extra: [["Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"]] }) });
      assert.equal(conn.res.headers["sec-websocket-extensions"], undefined);
      await conn.write(F.text("plain"));
      await echoes(conn, OP.text, Buffer.from("plain"));
    });

    test("frames sent in the same write as the upgrade request are read", async (t) => {
      const key = wsKey();
      const conn = await Conn.connect(port);
      t.after(() => conn.destroy());
      await conn.write(Buffer.concat([Buffer.from(upgrade({ key })), F.text("early"), F.ping("p"), F.binary(Buffer.from([1, 2]))]));
      const res = await conn.response();
      assert.equal(res.status, 101);
      assert.equal(res.headers["sec-websocket-accept"], acceptFor(key));
      const { messages, controls } = await collect(conn, 2);
      assert.deepEqual(messages.map((m) => [m.op, m.data.toString("latin1")]), [[OP.text, "early"], [OP.binary, "\x01\x02"]]);
      assert.deepEqual(controls.map((f) => [f.op, f.payload.toString()]), [[OP.pong, "p"]]);
    });
  });

  // ------------------------------------------------------------------ frames on /echo

  describe("frames on /echo", () => {
    test("text and binary messages are echoed with their opcode (Autobahn 1.1/1.2)", async (t) => {
      const conn = await ws(t);
      await conn.write(F.text("Hello, κόσμε 😀"));
      await echoes(conn, OP.text, Buffer.from("Hello, κόσμε 😀"));
      const bin = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 13, 10]);
      await conn.write(F.binary(bin));
      await echoes(conn, OP.binary, bin);
    });

    test("payload lengths 0, 125-128, 65535, 65536 and 1 MB (7/16/64-bit lengths) are echoed intact", async (t) => {
      const conn = await ws(t);
      for (const n of [0, 125, 126, 127, 128, 65535, 65536, 1 << 20]) {
        const bin = crypto.randomBytes(n);
        await conn.write(F.binary(bin));
        await echoes(conn, OP.binary, bin, 60000);
        if (n > 65536) continue;
        const txt = Buffer.alloc(n, "*");
        await conn.write(F.text(txt));
        await echoes(conn, OP.text, txt, 60000);
      }
      // a 64 KB message in 997-byte TCP writes (Autobahn 1.1.8)
      const bin = crypto.randomBytes(65536);
      await conn.writePieces(F.splitAt(F.binary(bin), Array(100).fill(997)));
      await echoes(conn, OP.binary, bin);
    });

    test("a fragmented message (FIN=0 + continuations, empty ones too) is echoed as one message", async (t) => {
      const conn = await ws(t);
      await conn.write(Buffer.concat([F.text("Hel", { fin: false }), F.cont("lo, ", { fin: false }), F.cont("world")]));
      await echoes(conn, OP.text, Buffer.from("Hello, world"));
      const parts = [Buffer.alloc(0), crypto.randomBytes(300), Buffer.alloc(0), crypto.randomBytes(70000), Buffer.alloc(0)];
      await conn.write(Buffer.concat(parts.map((p, i) => F.encode(i ? OP.cont : OP.binary, p, { fin: i === parts.length - 1 }))));
      await echoes(conn, OP.binary, Buffer.concat(parts));
      // 100 one-byte fragments, each its own write
      const txt = Buffer.from("x".repeat(100));
      await conn.writePieces([...txt].map((b, i) => F.encode(i ? OP.cont : OP.text, Buffer.from([b]), { fin: i === 99 })));
      await echoes(conn, OP.text, txt);
    });

    test("a ping between fragments is answered with a pong carrying its payload (Autobahn 5.6-5.8)", async (t) => {
      const conn = await ws(t);
      await conn.write(Buffer.concat([F.text("frag1", { fin: false }), F.ping("between"), F.cont("frag2")]));
      const { messages, controls } = await collect(conn, 1);
      assert.equal(messages[0].op, OP.text);
      assert.equal(messages[0].data.toString(), "frag1frag2");
      assert.deepEqual(controls.map((f) => [f.op, f.payload.toString()]), [[OP.pong, "between"]]);
      // the same with each frame in its own write, a pause between them (Autobahn 5.19)
      await conn.writePieces([F.text("a", { fin: false }), F.ping("p1"), F.cont("b", { fin: false }), F.ping("p2"), F.cont("c")], { delay: 30 });
      const r2 = await collect(conn, 1);
      assert.equal(r2.messages[0].data.toString(), "abc");
      assert.deepEqual(r2.controls.map((f) => [f.op, f.payload.toString()]), [[OP.pong, "p1"], [OP.pong, "p2"]]);
    });

    test("pings with 0 and 125-byte payloads, and 10 in a row, are answered by identical pongs in order (Autobahn 2.1-2.4, 2.10)", async (t) => {
      const conn = await ws(t);
      const payloads = [Buffer.alloc(0), crypto.randomBytes(125), Buffer.from("κόσμε"), ...Array.from({ length: 10 }, (_, i) => Buffer.from(`ping ${i}`))];
      await conn.write(Buffer.concat(payloads.map((p) => F.ping(p))));
      for (const p of payloads) {
        const f = await conn.frame();
        assert.equal(f.op, OP.pong);
        assert.ok(f.fin && f.payload.equals(p), `pong payload ${f.payload.toString("hex")} = ${p.toString("hex")}`);
      }
    });

    test("an unsolicited pong is ignored (Autobahn 2.7-2.9)", async (t) => {
      const conn = await ws(t);
      await conn.write(Buffer.concat([F.pong(), F.pong("unsolicited"), F.ping("real")]));
      const f = await conn.frame();
      assert.equal(f.op, OP.pong);
      assert.equal(f.payload.toString(), "real", "only the ping is answered");
      await sleep(100);
      assert.equal(conn.queue.length, 0);
    });

    test("a frame split 1 byte per write is read correctly (Autobahn 1.1.8-style chops, 2.6, 2.11)", async (t) => {
      const conn = await ws(t);
      const txt = Buffer.from("split ".repeat(40)); // 240 B: 16-bit length
      await conn.writePieces(F.splitAt(F.text(txt), Array(300).fill(1)), { delay: 1 });
      await echoes(conn, OP.text, txt);
      const p = crypto.randomBytes(125);
      await conn.writePieces(F.splitAt(F.ping(p), Array(200).fill(1)), { delay: 1 });
      const f = await conn.frame();
      assert.ok(f.op === OP.pong && f.payload.equals(p), "the pong of a ping sent byte by byte");
    });

    test("several frames in one write are all read", async (t) => {
      const conn = await ws(t);
      await conn.write(Buffer.concat([F.text("one"), F.binary(Buffer.from([2, 2])), F.ping("3"), F.text("four")]));
      const { messages, controls } = await collect(conn, 3);
      assert.deepEqual(messages.map((m) => [m.op, m.data.toString("latin1")]), [[OP.text, "one"], [OP.binary, "\x02\x02"], [OP.text, "four"]]);
      assert.deepEqual(controls.map((f) => [f.op, f.payload.toString()]), [[OP.pong, "3"]]);
    });

    test("an unmasked client frame → 1002", async (t) => {
      const conn = await ws(t);
      await conn.write(F.text("no mask", { mask: false }));
      const c = await expectClose(conn, 1002);
      assert.equal(c.before.length, 0, "nothing echoed");
    });

    test("RSV1, RSV2 or RSV3 set (no extension negotiated) → 1002 (Autobahn 3.*)", async (t) => {
      for (const [rsv, op, payload] of [[4, OP.text, "r1"], [2, OP.binary, "r2"], [1, OP.text, "r3"], [7, OP.ping, "r7"], [5, OP.binary, ""], [3, OP.close, F.closePayload(1000)]]) {
        const conn = await ws(t);
        await conn.write(Buffer.concat([F.text("before"), F.encode(op, payload, { rsv }), F.ping("after")]));
        const c = await expectClose(conn, 1002, { what: `RSV ${rsv}: ` });
        assert.deepEqual(c.before.map((f) => f.payload.toString()), ["before"], "the earlier message is echoed, nothing after the bad frame");
      }
    });

    test("reserved opcodes 3-7 and 11-15 → 1002 (Autobahn 4.*)", async (t) => {
      for (const op of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
        const conn = await ws(t);
        await conn.write(Buffer.concat([F.encode(op, "reserved"), F.ping("after")]));
        const c = await expectClose(conn, 1002, { what: `opcode ${op}: ` });
        assert.equal(c.before.length, 0, "no pong for the ping after the bad frame");
      }
    });

    test("a fragmented control frame (FIN=0 ping, pong or close) → 1002 (Autobahn 5.1, 5.2)", async (t) => {
      for (const op of [OP.ping, OP.pong, OP.close]) {
        const conn = await ws(t);
        await conn.write(Buffer.concat([F.encode(op, op === OP.close ? F.closePayload(1000) : "frag", { fin: false }), F.encode(op, "", { fin: true })]));
        await expectClose(conn, 1002, { what: `opcode ${op}: ` });
      }
    });

    test("a control frame with a payload over 125 bytes → 1002 (Autobahn 2.5, 7.3.6)", async (t) => {
      for (const [op, p] of [[OP.ping, Buffer.alloc(126, 1)], [OP.pong, Buffer.alloc(126, 2)], [OP.close, F.closePayload(1000, "x".repeat(124))]]) {
        const conn = await ws(t);
        await conn.write(F.encode(op, p));
        const c = await expectClose(conn, 1002, { what: `opcode ${op}: ` });
        assert.equal(c.before.length, 0, "no pong");
      }
    });

    test("a continuation frame with no message open → 1002 (Autobahn 5.9-5.14)", async (t) => {
      for (const frames of [[F.cont("x")], [F.cont("x", { fin: false }), F.cont("y")], [F.text("done"), F.cont("late")]]) {
        const conn = await ws(t);
        await conn.write(Buffer.concat(frames));
        await expectClose(conn, 1002);
      }
    });

    test("a new text or binary frame while a fragmented message is open → 1002 (Autobahn 5.15-5.18)", async (t) => {
      for (const second of [F.text("new"), F.binary(Buffer.from("new")), F.text("new", { fin: false })]) {
        const conn = await ws(t);
        await conn.write(Buffer.concat([F.text("open", { fin: false }), second]));
        await expectClose(conn, 1002);
      }
    });

    test("invalid UTF-8 in a text frame → 1007 (Autobahn 6.3-6.21; every invalid vector of test/vectors/utf8.json)", async (t) => {
      const bad = UTF8.filter((c) => c.expect !== "ok");
      assert.ok(bad.length > 20);
      for (const c of bad) {
        const conn = await ws(t);
        await conn.write(F.text(Buffer.from(c.input, "hex")));
        await expectClose(conn, 1007, { what: `${c.name}: ` });
        conn.destroy();
      }
    });

    test("invalid UTF-8 split across fragments, or a message ending mid-character → 1007", async (t) => {
      const surrogate = Buffer.concat([KOSME, Buffer.from("eda080", "hex"), Buffer.from("edited")]);
      const cases = {
        "ED | A0 80 (surrogate) across two fragments": [F.text(surrogate.subarray(0, 12), { fin: false }), F.cont(surrogate.subarray(12))],
        "F4 | 90 (over U+10FFFF) across fragments": [F.text(Buffer.from("41f4", "hex"), { fin: false }), F.cont(Buffer.from("9080", "hex"), { fin: false }), F.cont(Buffer.from("80", "hex"))],
        "a truncated character before a final empty fragment": [F.text(Buffer.from("41e282", "hex"), { fin: false }), F.cont("")],
        "a truncated character in a single frame": [F.text(Buffer.from("41f09f98", "hex"))],
      };
      for (const [name, frames] of Object.entries(cases)) {
        const conn = await ws(t);
        await conn.writePieces(frames, { delay: 20 });
        await expectClose(conn, 1007, { what: `${name}: ` });
      }
    });

    test("UTF-8 fails fast: 1007 arrives before the rest of a long frame or message is sent (Autobahn 6.4.*)", async (t) => {
      // one 1 MB text frame, the invalid bytes (F4 90: over U+10FFFF) 64 bytes in
      const payload = Buffer.alloc(1 << 20, "a");
      Buffer.from("f4908080", "hex").copy(payload, 64);
      const frame = F.text(payload);
      let conn = await ws(t);
      await conn.write(frame.subarray(0, 14 + 256));
      let c = await expectClose(conn, 1007, { what: "single frame: " });
      assert.ok(c.before.every((f) => f.op === OP.text && !f.fin), "at most the valid prefix was echoed, unfinished");
      // a fragmented message: valid part 1, invalid part 2, part 3 never sent
      conn = await ws(t);
      await conn.write(F.text(KOSME, { fin: false }));
      await sleep(100);
      await conn.write(F.cont(Buffer.from("f4908080", "hex"), { fin: false }));
      c = await expectClose(conn, 1007, { what: "fragmented: " });
      // a code point split across TCP writes: fails at its second byte, while the frame goes on
      conn = await ws(t);
      const f2 = F.text(Buffer.concat([KOSME, Buffer.from("eda080", "hex"), Buffer.alloc(5000, "z")]));
      const at = f2.length - 5000 - 3; // the ED byte
      await conn.write(f2.subarray(0, at + 2));
      await expectClose(conn, 1007, { what: "split code point: " });
    });

    test("valid UTF-8 split across fragments at every byte boundary is echoed (Autobahn 6.2, 6.4)", async (t) => {
      const conn = await ws(t);
      const s = Buffer.from("aκόσμε€😀\u{10FFFF}z");
      for (let i = 0; i <= s.length; i++) {
        await conn.write(Buffer.concat([F.text(s.subarray(0, i), { fin: false }), F.cont(s.subarray(i))]));
        const m = await conn.message();
        assert.ok(m.op === OP.text && m.data.equals(s), `split at ${i}`);
      }
      // and three ways, every pair of boundaries, each fragment its own write
      for (let i = 1; i < s.length; i += 3) for (let j = i; j < s.length; j += 2) {
        await conn.writePieces([F.text(s.subarray(0, i), { fin: false }), F.cont(s.subarray(i, j), { fin: false }), F.cont(s.subarray(j))]);
        const m = await conn.message();
        assert.ok(m.op === OP.text && m.data.equals(s), `split at ${i}, ${j}`);
      }
    });

    test("UTF-8 after long ASCII runs: valid characters and invalid bytes at every block boundary (Espruino's ASCII fast path)", async (t) => {
      const offsets = [...Array(41).keys(), 47, 48, 49, 63, 64, 65, 127, 128, 129, 255, 256, 257, 1000, 1023, 1024, 1025, 4095, 4096, 5000];
      const conn = await ws(t);
      for (const n of offsets) {
        const p = Buffer.concat([Buffer.alloc(n, "a"), Buffer.from("é€😀"), Buffer.alloc(37, "b")]);
        await conn.write(F.text(p));
        await echoes(conn, OP.text, p);
      }
      for (const n of [0, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 127, 128, 1023, 1024, 1025, 4096]) {
        for (const bad of ["80", "c0af", "eda080"]) {
          const c = await ws(t);
          await c.write(F.text(Buffer.concat([Buffer.alloc(n, "a"), Buffer.from(bad, "hex"), Buffer.alloc(40, "b")])));
          await expectClose(c, 1007, { what: `${bad} after ${n} ASCII bytes: ` });
          c.destroy();
        }
      }
    });

    test("every valid UTF-8 vector of test/vectors/utf8.json is echoed as text (Autobahn 6.2-6.23)", async (t) => {
      const conn = await ws(t);
      for (const c of UTF8.filter((x) => x.expect === "ok")) {
        const p = Buffer.from(c.input, "hex");
        await conn.write(F.text(p));
        await echoes(conn, OP.text, p);
      }
    });

    test("close with code 1000 → the server replies 1000 and closes TCP (Autobahn 7.1.1, 7.3.3)", async (t) => {
      const conn = await ws(t, { echoClose: false });
      await conn.write(F.text("last"));
      await conn.write(F.close(1000));
      const c = await expectClose(conn, 1000);
      assert.deepEqual(c.before.map((f) => f.payload.toString()), ["last"], "the message before the close is echoed first");
      assert.equal(c.payload.length, 2, "just the code");
      // a 256 KB message, the close and a ping in one write: the whole echo, the close, no pong (7.1.6)
      const big = crypto.randomBytes(256 * 1024);
      const c2conn = await ws(t, { echoClose: false });
      await c2conn.write(Buffer.concat([F.binary(big), F.close(1000), F.ping("late")]));
      const c2 = await expectClose(c2conn, 1000, { ms: 60000 });
      assert.ok(Buffer.concat(c2.before.filter((f) => f.op !== OP.pong).map((f) => f.payload)).equals(big), "the message was echoed whole before the close");
      assert.ok(!c2.before.some((f) => f.op === OP.pong), "no pong after the close");
    });

    test("close with no payload → the server replies with an empty close (Autobahn 7.3.1)", async (t) => {
      const conn = await ws(t, { echoClose: false });
      await conn.write(F.close());
      const c = await expectClose(conn, undefined);
      assert.equal(c.payload.length, 0, "an empty close answers an empty close (RFC 6455 §5.5.1)");
    });

    test("close codes 0, 999, 1004-1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535 → 1002 (Autobahn 7.9.*)", async (t) => {
      for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
        const conn = await ws(t, { echoClose: false });
        await conn.write(F.close(code));
        await expectClose(conn, 1002, { what: `code ${code}: ` });
      }
    });

    test("close codes 1000-1003, 1007-1011, 3000, 3999, 4000, 4999 are echoed (Autobahn 7.7.*)", async (t) => {
      for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]) {
        const conn = await ws(t, { echoClose: false });
        await conn.write(F.close(code, "bye"));
        await expectClose(conn, code, { what: `code ${code}: ` });
      }
    });

    test("a close reason of 123 bytes is fine (Autobahn 7.3.4, 7.3.5)", async (t) => {
      const conn = await ws(t, { echoClose: false });
      await conn.write(F.close(1000, "é".repeat(61) + "x"));
      await expectClose(conn, 1000);
    });

    test("a close frame with a 1-byte payload → 1002 (Autobahn 7.3.2)", async (t) => {
      const conn = await ws(t, { echoClose: false });
      await conn.write(F.encode(OP.close, Buffer.from([0x03])));
      await expectClose(conn, 1002);
    });

    test("a close reason with invalid UTF-8 → 1007 (Autobahn 7.5.1)", async (t) => {
      const conn = await ws(t, { echoClose: false });
      await conn.write(F.close(1000, Buffer.concat([KOSME, Buffer.from("eda080", "hex"), Buffer.from("edited")])));
      await expectClose(conn, 1007);
    });

    test("a close between fragments ends the connection; the open message is dropped (Autobahn 7.1.5)", async (t) => {
      const conn = await ws(t, { echoClose: false });
      await conn.write(Buffer.concat([F.text("frag1", { fin: false }), F.close(1000), F.cont("frag2")]));
      const c = await expectClose(conn, 1000);
      assert.ok(c.before.every((f) => !f.fin), "no complete message was echoed");
    });

    test("everything after the close frame is ignored (Autobahn 7.1.2-7.1.4)", async (t) => {
      const conn = await ws(t, { echoClose: false });
      await conn.write(Buffer.concat([F.close(1000), F.text("after"), F.ping("after"), F.close(1001), F.encode(5, "bad")]));
      const c = await expectClose(conn, 1000);
      assert.equal(c.before.length, 0);
      await sleep(50);
      assert.equal(conn.queue.length, 0, "no frame after the close");
    });
  });

  // ------------------------------------------------------------------ /ws: messages and JSON-RPC

  describe("/ws (whole messages, JSON-RPC)", () => {
    const rpc = async (conn, req) => {
      await conn.write(F.text(typeof req === "string" ? req : JSON.stringify(req)));
      for (;;) {
        const m = await conn.message();
        assert.equal(m.op, OP.text, "replies are text");
        // RFC 6455 §5.6: a text frame that is not UTF-8 makes the client fail the connection (1007)
        assert.ok(isUtf8(m.data), `the text frame is valid UTF-8: ${m.data.toString("latin1").slice(0, 120)} (hex ${m.data.toString("hex").slice(0, 160)})`);
        const v = JSON.parse(m.data.toString("utf8"));
        if (!("method" in v)) return v; // pushes carry a method
      }
    };

    test(`a message over maxMessage (${LIMITS.maxMessage} B) → 1009 as soon as its header says so`, async (t) => {
      // exactly maxMessage is fine
      let conn = await ws(t, { path: "/ws" });
      const base = JSON.stringify({ id: 1, method: "control.get", params: { pad: "" } });
      const full = base.replace('"pad":""', `"pad":"${"p".repeat(LIMITS.maxMessage - base.length)}"`);
      assert.equal(full.length, LIMITS.maxMessage);
      assert.equal((await rpc(conn, full)).id, 1, "a message of exactly maxMessage bytes is handled");
      // one frame declaring maxMessage + 1: only its header and 8 bytes are sent
      conn = await ws(t, { path: "/ws" });
      await conn.write(F.text(Buffer.alloc(LIMITS.maxMessage + 1, "x")).subarray(0, 8 + 8));
      await expectClose(conn, 1009, { what: "one frame: " });
      // fragments adding up to more: the second fragment's header is enough
      conn = await ws(t, { path: "/ws" });
      await conn.write(F.text(Buffer.alloc(3000, "y"), { fin: false }));
      await conn.write(F.cont(Buffer.alloc(3000, "y")).subarray(0, 8 + 8));
      await expectClose(conn, 1009, { what: "fragmented: " });
      // a 64-bit length far beyond anything
      conn = await ws(t, { path: "/ws" });
      await conn.write(F.encode(OP.text, Buffer.alloc(0), { len: 2 ** 40 }));
      await expectClose(conn, 1009, { what: "2^40 bytes declared: " });
    });

    test("/ws reassembles fragments (with a ping between them) into one request", async (t) => {
      const conn = await ws(t, { path: "/ws" });
      const req = Buffer.from(JSON.stringify({ id: "frag", method: "control.get" }));
      await conn.writePieces([F.text(req.subarray(0, 5), { fin: false }), F.ping("mid"), F.cont(req.subarray(5, 9), { fin: false }), F.cont(req.subarray(9))], { delay: 20 });
      const { messages, controls } = await collect(conn, 1);
      assert.equal(JSON.parse(messages[0].data.toString()).id, "frag");
      assert.deepEqual(controls.map((f) => [f.op, f.payload.toString()]), [[OP.pong, "mid"]]);
    });

    test("invalid UTF-8 on /ws → 1007", async (t) => {
      const conn = await ws(t, { path: "/ws" });
      await conn.write(F.text(Buffer.concat([Buffer.from('{"id":1,"method":"'), Buffer.from("eda080", "hex"), Buffer.from('"}')])));
      const c = await expectClose(conn, 1007);
      assert.equal(c.before.length, 0, "no reply");
    });

    test("a binary message on /ws → 1003", async (t) => {
      const conn = await ws(t, { path: "/ws" });
      await conn.write(F.binary(Buffer.from(JSON.stringify({ id: 1, method: "status" }))));
      const c = await expectClose(conn, 1003);
      assert.equal(c.before.length, 0, "no reply");
    });

    test(`a close the client never answers: TCP closed after closeTimeout (${LIMITS.closeTimeout} ms) + the sweep`, async (t) => {
      const conn = await ws(t, { path: "/ws", echoClose: false });
      await conn.write(F.binary(Buffer.from("not JSON text")));
      const c = await expectClose(conn, 1003, { ms: LIMITS.closeTimeout + 3000 });
      const dt = c.tcpAt - c.closeAt;
      t.diagnostic(`TCP closed ${Math.round(dt)} ms after the server's close frame`);
      assert.ok(dt >= LIMITS.closeTimeout - 100 && dt <= LIMITS.closeTimeout + 500 + 700, `${Math.round(dt)} ms`);
    });

    test("a request gets a reply with the same id (number or string)", async (t) => {
      const conn = await ws(t, { path: "/ws", protocol: "sprat.v1" });
      const a = await rpc(conn, { id: 7, method: "control.get" });
      assert.equal(a.id, 7);
      assert.equal(typeof a.result.led, "boolean");
      assert.equal(typeof a.result.level, "number");
      const b = await rpc(conn, { id: "abc-é", method: "status" });
      assert.equal(b.id, "abc-é");
      assert.equal(typeof b.result.uptime, "number");
      // a notification (no id) gets no reply: the next reply is for the next request
      await conn.write(F.text(JSON.stringify({ method: "control.get" })));
      assert.equal((await rpc(conn, { id: 9, method: "control.get" })).id, 9);
    });

    test("invalid JSON → error -32700 with id null", async (t) => {
      const conn = await ws(t, { path: "/ws" });
      const r = await rpc(conn, '{"id": 1, "method": ');
      assert.equal(r.id, null);
      assert.equal(r.error.code, -32700);
      assert.equal((await rpc(conn, { id: 2, method: "control.get" })).id, 2, "the connection stays usable");
    });

    test("an unknown method → error -32601 with the request's id", async (t) => {
      const conn = await ws(t, { path: "/ws" });
      const r = await rpc(conn, { id: 5, method: "no.such.method" });
      assert.equal(r.id, 5);
      assert.equal(r.error.code, -32601);
    });

    test("method names inherited from Object.prototype are unknown methods too → -32601", async (t) => {
      const conn = await ws(t, { path: "/ws" });
      const got = {};
      for (const method of ["constructor", "toString", "hasOwnProperty", "valueOf", "__proto__", "__defineGetter__"]) {
        const r = await rpc(conn, { id: method, method, params: { topics: ["x"] } });
        got[method] = r.error ? r.error.code : `result ${JSON.stringify(r.result)}`;
      }
      assert.deepEqual(got, { constructor: -32601, toString: -32601, hasOwnProperty: -32601, valueOf: -32601, __proto__: -32601, __defineGetter__: -32601 });
    });

    test("replies are valid UTF-8 whatever JSON escapes the request used (\\u00e9)", async (t) => {
      const conn = await ws(t, { path: "/ws" });
      // an ASCII-only request, as JSON encoders with ensure_ascii (Python's default) write it
      const r = await rpc(conn, String.raw`{"id":1,"method":"caf\u00e9"}`);
      assert.equal(r.error.message, "unknown method café");
      const set = await rpc(conn, String.raw`{"id":2,"method":"settings.set","params":{"name":"G\u00e4r\u00e4t \ud83d\ude80"}}`);
      assert.equal(set.result.name, "Gärät 🚀");
      assert.equal((await rpc(conn, { id: 3, method: "settings.get" })).result.name, "Gärät 🚀");
      await rpc(conn, { id: 4, method: "settings.set", params: { name: "sprat" } });
    });

    test('subscribe / unsubscribe "telemetry" starts and stops the pushes', async (t) => {
      const conn = await ws(t, { path: "/ws" });
      await sleep(3 * LIMITS.telemetryMs);
      assert.equal(conn.queue.length, 0, "no pushes before subscribing");
      const sub = await rpc(conn, { id: 1, method: "subscribe", params: { topics: ["telemetry"] } });
      assert.deepEqual(sub, { id: 1, result: ["telemetry"] });
      const pushes = [];
      while (pushes.length < 3) {
        const v = JSON.parse((await conn.message(2000)).data.toString());
        assert.equal(v.method, "telemetry");
        for (const k of ["t", "temp", "load", "mem"]) assert.equal(typeof v.params[k], "number", `params.${k}`);
        pushes.push(v);
      }
      assert.ok(pushes[2].params.t >= pushes[0].params.t, "t goes forward");
      const unsub = await rpc(conn, { id: 2, method: "unsubscribe", params: { topics: ["telemetry"] } });
      assert.deepEqual(unsub, { id: 2, result: ["telemetry"] });
      await sleep(6 * LIMITS.telemetryMs);
      assert.deepEqual(conn.queue.filter((f) => f.op !== OP.pong), [], "no push after the unsubscribe reply");
    });
  });

  // ------------------------------------------------------------------ keep-alive

  describe("keep-alive", () => {
    const SWEEP = 500; // the server checks its timers every 500 ms
    const SLACK = r.name === "espruino" ? 700 : 500;

    test(`an idle client gets a ping within pingInterval (${LIMITS.pingInterval} ms) + the 500 ms sweep`, async (t) => {
      const t0 = performance.now();
      const conn = await ws(t, { autoPong: false });
      const f = await conn.frame(LIMITS.pingInterval + SWEEP + SLACK + 1000);
      const dt = f.t - t0;
      t.diagnostic(`ping after ${Math.round(dt)} ms`);
      assert.equal(f.op, OP.ping);
      assert.ok(f.fin && f.len <= 125);
      assert.ok(dt >= LIMITS.pingInterval - 50 && dt <= LIMITS.pingInterval + SWEEP + SLACK, `ping after ${Math.round(dt)} ms`);
    });

    test(`no pong → TCP closed within pongTimeout (${LIMITS.pongTimeout} ms) + the sweep`, async (t) => {
      const conn = await ws(t, { autoPong: false });
      const f = await conn.frame(LIMITS.pingInterval + SWEEP + SLACK + 1000);
      assert.equal(f.op, OP.ping);
      assert.ok(await conn.tcpClosed(LIMITS.pongTimeout + SWEEP + SLACK + 1000), "TCP closed");
      const dt = conn.endAt - f.t;
      t.diagnostic(`TCP closed ${Math.round(dt)} ms after the ping`);
      assert.ok(dt >= LIMITS.pongTimeout - 100 && dt <= LIMITS.pongTimeout + SWEEP + SLACK, `closed ${Math.round(dt)} ms after the ping`);
    });

    test("a client that answers pings stays connected", async (t) => {
      const conn = await ws(t, { autoPong: true });
      await sleep(3 * (LIMITS.pingInterval + LIMITS.pongTimeout));
      assert.ok(conn.pings.length >= 2, `${conn.pings.length} pings answered`);
      assert.equal(conn.endAt, 0, "still connected");
      await conn.write(F.text("alive"));
      await echoes(conn, OP.text, Buffer.from("alive"));
    });
  });

  // ------------------------------------------------------------------ slow client

  // A client that stops reading. On loopback the kernel absorbs ~4 MB before the server's own
  // send queue grows at all (the server's send buffer is sized from loopback's 64 KB MSS),
  // which takes minutes to fill through sprat at telemetry rates and ~90 s even with big
  // replies. So the stalled client's TCP connection is made by test/fixtures/ws/tcp-relay.py
  // with a 536-byte MSS and a 2 KB receive buffer (node can set neither): the pipe then
  // fills after ~50 KB. It is filled with ~4 KB replies (an unknown method's error echoes the
  // name), ONE at a time, each sent once the previous one has left the server (seen in
  // /proc/net/tcp), so that replies never pile up in the server and its separate "too many
  // requests" guard stays out of it; when a reply no longer gets through, the pipe is full.
  // Then a third client drives pushes on topic "control" (control.set) that the server must
  // skip for the stalled client. The stalled client sends an unsolicited pong every 300 ms
  // so that the keep-alive timer (no traffic → ping → no pong → drop) does not decide instead.
  const slowSkip = !canReadProcTcp() ? "slow client: needs Linux /proc/net/tcp to watch the socket buffers"
    : !hasPython() ? "slow client: needs python3 (test/fixtures/ws/tcp-relay.py sets TCP_MAXSEG and SO_RCVBUF)" : false;
  describe("slow client", { skip: slowSkip }, () => {
    const SWEEP = 500, SLACK = 1500, PUSHES = 1000;
    let srv, watcher, driver, slow, pongTimer;
    const st = {};
    const until = async (check, ms) => {
      const t0 = performance.now();
      for (;;) {
        if (check()) return true;
        if (performance.now() - t0 > ms) return false;
        await sleep(2);
      }
    };
    const rpcOn = async (conn, req) => {
      await conn.write(F.text(JSON.stringify(req)));
      for (;;) { const v = JSON.parse((await conn.message()).data.toString()); if (v.id === req.id) return v; }
    };

    before(async () => {
      srv = await startServer(r);
      const p = srv.port;
      watcher = (await openWs(p, { path: "/ws" })).conn;
      driver = (await openWs(p, { path: "/ws" })).conn;
      slow = (await openWs(p, { path: "/ws", relay: true })).conn;
      await rpcOn(watcher, { id: 1, method: "subscribe", params: { topics: ["telemetry"] } });
      await rpcOn(slow, { id: 1, method: "subscribe", params: { topics: ["telemetry", "control"] } });
      slow.pause();
      st.rx0 = slow.rx;
      const lp = slow.localPort;
      st.server = () => tcpInfo(p, lp);
      // bytes on their way to the stalled client: the server's send queue and the relay's
      // receive queue in the kernel (plus what still got through: slow.rx)
      const seen = () => { const a = tcpInfo(p, lp), b = tcpInfo(lp, p); return (a ? a.tx : 0) + (b ? b.rx : 0); };
      pongTimer = setInterval(() => slow.write(F.pong()), 300);
      // phase 1: fill the pipe, one ~4 KB reply at a time
      const name = "m".repeat(LIMITS.maxMessage - 40);
      let id = 1000;
      const t0 = performance.now();
      for (;;) {
        const before = seen() + slow.rx;
        await slow.write(F.text(JSON.stringify({ id: id++, method: name })));
        // a reply leaves the server in a few ms on the emulator, ~75 ms on Espruino
        if (!await until(() => seen() + slow.rx - before > 2048, 1500)) break;
        if (id > 1000 + 500) throw new Error("the pipe took 2 MB and still more: is the relay's stdout read?");
      }
      st.fillMs = performance.now() - t0;
      st.requests = id - 1000;
      st.seen = seen();
      // phase 2: pushes on "control" the stalled client cannot take
      st.t2 = performance.now();
      st.watch0 = watcher.queue.length;
      for (let k = 0; k < PUSHES; k += 20) {
        const batch = Array.from({ length: 20 }, (_, i) => ({ id: k + i + 10, method: "control.set", params: { level: (k + i) % 101 } }));
        await driver.write(Buffer.concat(batch.map((q) => F.text(JSON.stringify(q)))));
        for (let i = 0; i < 20; i++) await driver.message(10000);
      }
      st.stallAt = performance.now();
    });
    after(async () => {
      clearInterval(pongTimer);
      for (const c of [watcher, driver, slow]) if (c) c.destroy();
      if (srv) await srv.stop();
    });

    // (a bug when this suite was written: end() waited for the stuck queue forever; fixed by
    // ws.ts's tick setting Espruino's "close now" flag one sweep after end())
    test("a client that never reads is dropped (TCP) within pongTimeout + closeTimeout, even with its send queue stuck", async (t) => {
      t.diagnostic(`${r.name}: the stalled pipe took ${st.requests - 1} replies (${Math.round(st.fillMs)} ms); ${PUSHES} control pushes driven in ${Math.round(st.stallAt - st.t2)} ms`);
      const deadline = LIMITS.pongTimeout + LIMITS.closeTimeout + 3 * SWEEP + SLACK;
      if (r.name === "kaluma-emu") {
        // Kaluma closes with lwIP's tcp_close, which keeps the bytes lwIP holds and queues the
        // FIN after them, so the host socket standing for the pcb stays ESTABLISHED while the
        // peer does not read: what shows the drop is the server's count of WebSocket clients
        // (watcher, driver, and the stalled one until it is dropped), asked over the driver
        let id = 5000, clients;
        while ((clients = (await rpcOn(driver, { id: id++, method: "status" })).result.clients) > 2 && performance.now() < st.stallAt + deadline) await sleep(50);
        assert.equal(clients, 2, `${Math.round(performance.now() - st.stallAt)} ms after the stall the server still counts the stalled client`);
        return;
      }
      const dropped = await until(() => { const s = st.server(); return !s || s.state !== "ESTABLISHED"; }, Math.max(0, st.stallAt + deadline - performance.now()));
      const s = st.server();
      assert.ok(dropped, `${Math.round(performance.now() - st.stallAt)} ms after the stall the server's socket is still ${s && s.state}, ${s && s.tx} B unsent in the kernel`);
    });

    test("pushes it cannot take are skipped, it is closed (1008, or TCP dropped), and another client keeps its telemetry", async (t) => {
      const wait = st.stallAt + LIMITS.pongTimeout + LIMITS.closeTimeout + 3 * SWEEP + SLACK - performance.now();
      if (wait > 0) await sleep(wait);
      // the watcher got telemetry all along
      const tele = watcher.queue.slice(st.watch0).filter((f) => f.op === OP.text && f.payload.includes('"telemetry"')).map((f) => f.t);
      const span = performance.now() - st.t2;
      const gaps = tele.map((x, i) => x - (i ? tele[i - 1] : st.t2));
      t.diagnostic(`${r.name}: the watcher got ${tele.length} telemetry pushes in ${Math.round(span)} ms (largest gap ${Math.round(Math.max(...gaps))} ms)`);
      assert.ok(tele.length >= 0.5 * span / LIMITS.telemetryMs, `${tele.length} pushes in ${Math.round(span)} ms`);
      assert.ok(Math.max(...gaps) < 1000, "no gap of a second or more");
      // now read what the stalled client was sent: its backlog, then the server's 1008 and
      // the end of TCP; or, if the server dropped the connection queue and all (the close
      // frame was in that queue), just the end of TCP
      clearInterval(pongTimer);
      slow.resume();
      const frames = [];
      let close = null;
      await slow.wait(() => {
        for (let f; (f = slow.queue.shift());) { if (f.op === OP.close) close = f; else frames.push(f); }
        return close || slow.endAt;
      }, 30000, "the close frame or the end of TCP");
      const control = frames.filter((f) => f.payload.includes('"method":"control"')).length;
      const backlog = slow.rx - st.rx0;
      const { code, reason } = close ? F.parseClose(close.payload) : {};
      t.diagnostic(`${r.name}: ${close ? `close ${code} "${reason}"` : "TCP dropped, no close frame"}; ${backlog} B were still delivered; ${control} of ${PUSHES} control pushes`);
      if (close) assert.equal(code, 1008, `close code ${code} "${reason}"`);
      assert.ok(await slow.tcpClosed(5000), "TCP closed");
      assert.ok(control < PUSHES / 2, `${control} of ${PUSHES} pushes were queued for a client that could not take them`);
    });
  });

  // ------------------------------------------------------------------ the Autobahn 9.* class

  // kaluma-emu: 1 MB. The binding hands lwIP one chunk per event-loop turn, slower than the
  // client sends, so the echo's queue grows; with this suite's limits (wsQueue 1 KB,
  // pongTimeout 800 ms) the slow-client policy then closes the connection after ~2 MB, as
  // designed (with pongTimeout 10 min, 4 MB echoes in ~7 s). docs/runtimes.md
  const BIG = SLOW || r.name === "emulator" ? 16 : r.name === "kaluma-emu" ? 1 : 4;
  test(`a ${BIG} MB binary message in 64 KB frames is echoed intact (Autobahn 9.*)`, { timeout: 600000 }, async (t) => {
    const conn = await ws(t);
    const data = crypto.randomBytes(BIG << 20);
    const frames = [];
    for (let i = 0; i < data.length; i += 65536) frames.push(F.encode(i ? OP.cont : OP.binary, data.subarray(i, i + 65536), { fin: i + 65536 >= data.length }));
    const t0 = performance.now();
    const sending = conn.writePieces(frames);
    const m = await conn.message(r.name === "emulator" ? 60000 : 590000);
    await sending;
    const ms = performance.now() - t0;
    t.diagnostic(`${r.name}: ${BIG} MB echoed in ${Math.round(ms)} ms (${(BIG / ms * 1000).toFixed(2)} MB/s), ${m.frames} frames back`);
    assert.equal(m.op, OP.binary);
    assert.ok(m.data.equals(data), "the echo equals what was sent");
    if (r.name === "emulator") assert.ok(ms < 60000, `${Math.round(ms)} ms`);
  });

  test(`Autobahn 9.1.6's shape: one ${BIG} MB text frame of "BAsd7&jh23"… is echoed intact`, { timeout: 600000 }, async (t) => {
    const conn = await ws(t);
    const data = Buffer.alloc(BIG << 20, "BAsd7&jh23");
    const t0 = performance.now();
    const sending = conn.write(F.text(data));
    const m = await conn.message(r.name === "emulator" ? 60000 : 590000);
    await sending;
    const ms = performance.now() - t0;
    // Autobahn waits 100 s for 9.1.6's 16 MB (10 s for 9.1.1's 64 KB)
    t.diagnostic(`${r.name}: ${BIG} MB text frame echoed in ${Math.round(ms)} ms (${(BIG / ms * 1000).toFixed(2)} MB/s; 16 MB would take ~${Math.round(ms * 16 / BIG / 1000)} s, Autobahn allows 100 s)`);
    assert.equal(m.op, OP.text);
    assert.ok(m.data.equals(data), "the echo equals what was sent");
  });

  // ------------------------------------------------------------------ property test

  test("property: random messages, fragmentations and TCP write splits are echoed intact", { timeout: 300000 }, async (t) => {
    const msg = fc.oneof(
      fc.record({ op: fc.constant(OP.text), data: fc.string({ unit: "binary", maxLength: 600 }).map((s) => Buffer.from(s, "utf8")) }),
      fc.record({ op: fc.constant(OP.binary), data: fc.uint8Array({ maxLength: 3000 }).map((u) => Buffer.from(u)) }));
    // a message's fragment sizes: cut points as fractions of its length
    const plan = fc.record({ msg, cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }), pingAfter: fc.option(fc.nat(3)) });
    const runs = r.name === "emulator" ? 30 : 10;
    await fc.assert(fc.asyncProperty(fc.array(plan, { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 40 }), async (plans, splits) => {
      const { conn } = await openWs(port, { path: "/echo" });
      try {
        const bytes = [];
        let pings = 0;
        for (const { msg: m, cuts, pingAfter } of plans) {
          const at = [...new Set(cuts.map((c) => Math.floor(c * m.data.length)))].sort((a, b) => a - b);
          const pieces = [];
          let prev = 0;
          for (const c of at) { pieces.push(m.data.subarray(prev, c)); prev = c; }
          pieces.push(m.data.subarray(prev));
          pieces.forEach((p, i) => {
            bytes.push(F.encode(i ? OP.cont : m.op, p, { fin: i === pieces.length - 1 }));
            if (pingAfter === i && i < pieces.length - 1) { bytes.push(F.ping(`p${pings++}`)); }
          });
        }
        await conn.writePieces(F.splitAt(Buffer.concat(bytes), splits));
        const { messages, controls } = await collect(conn, plans.length, 20000);
        assert.deepEqual(messages.map((m) => m.op), plans.map((p) => p.msg.op));
        messages.forEach((m, i) => assert.ok(m.data.equals(plans[i].msg.data), `message ${i}`));
        while (controls.filter((f) => f.op === OP.pong).length < pings) controls.push(await conn.frame());
        assert.deepEqual(controls.filter((f) => f.op === OP.pong).map((f) => f.payload.toString()), Array.from({ length: pings }, (_, i) => `p${i}`));
      } finally { conn.destroy(); }
    }), { numRuns: runs });
  });
});
