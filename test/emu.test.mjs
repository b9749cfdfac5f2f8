// Tests of the Espruino host emulator (tools/emu). Run: node --test test/emu.test.mjs
import test from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import http from "node:http";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createEspruino } from "../tools/emu/index.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = (name) => fs.readFileSync(path.join(here, "fixtures/emu", name), "latin1");
const CLI = path.join(here, "../tools/emu/cli.mjs");
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "sprat-emu-"));
test.after(() => fs.rmSync(tmpDir, { recursive: true, force: true }));
let imgN = 0;
const tmpImage = () => path.join(tmpDir, `flash${imgN++}.img`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(cond, what = "condition", ms = 3000) {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("timed out waiting for " + what);
    await sleep(5);
  }
}

/** An emulator (stopped after the test) running `code`; resolves once it listens. */
async function boot(t, code, extra = {}) {
  const lines = [];
  let onPort;
  const listening = new Promise((r) => (onPort = r));
  const emu = createEspruino({ flash: tmpImage(), port: () => 0, onListen: (_, p) => onPort(p), log: (l) => lines.push(l), ...extra });
  t.after(() => emu.stop());
  emu.run(code);
  const port = /listen\(/.test(code) ? await listening : null;
  return { emu, port, lines, events: () => emu.global.events };
}
/** A client that collects everything until the server closes. */
function client(port) {
  const sock = net.connect(port, "127.0.0.1");
  const c = { sock, data: Buffer.alloc(0), ended: false, closed: false };
  sock.on("data", (d) => (c.data = Buffer.concat([c.data, d])));
  sock.on("end", () => (c.ended = true));
  sock.on("close", () => (c.closed = true));
  sock.on("error", () => {});
  c.connected = new Promise((r) => sock.on("connect", r));
  c.text = () => c.data.toString("latin1");
  return c;
}

// ---------------------------------------------------------------- language/globals
test("globals Espruino lacks are gone, built-in methods trimmed", async (t) => {
  const { emu } = await boot(t, "");
  const types = emu.run(`[typeof Map, typeof Set, typeof WeakMap, typeof Symbol, typeof Proxy, typeof Reflect,
    typeof BigInt, typeof TextEncoder, typeof TextDecoder, typeof Buffer, typeof setImmediate,
    typeof queueMicrotask, typeof structuredClone, typeof Intl, typeof SharedArrayBuffer, typeof WebAssembly,
    typeof RangeError, typeof URIError, typeof Array.from, typeof Array.of, typeof [].at, typeof [].lastIndexOf,
    typeof [].flat, typeof [].values, typeof "".trimStart, typeof "".codePointAt, typeof String.fromCodePoint,
    typeof Object.freeze, typeof Object.is, typeof Number.isInteger, typeof Number.parseInt, typeof Math.trunc,
    typeof Math.imul, typeof Promise.race, typeof Promise.resolve(1).finally, typeof Uint8Array.from,
    typeof new Uint8Array(1).at, typeof (1).toPrecision].join()`);
  assert.deepEqual([...new Set(types.split(","))], ["undefined"]);
  const present = emu.run(`[typeof [].includes, typeof "".padStart, typeof Object.assign, typeof Promise.all,
    typeof E, typeof print, typeof global, typeof getTime, typeof btoa, typeof Math.clip, typeof InternalError].join()`);
  assert.ok(!present.split(",").includes("undefined"), present);
  assert.equal(emu.run("global === globalThis"), true);
  assert.equal(emu.run('process.env.MODULES'), "net,Storage,crypto,http");
  assert.equal(emu.run("process.env.BOARD"), "EMULATOR");
  assert.equal(emu.run('try { require("foo") } catch (e) { String(e) + (e instanceof Error) }'), 'Error: Module "foo" not found' + "true");
  assert.deepEqual([...emu.run("[setTimeout(function(){}, 100), setTimeout(function(){}, 100), setInterval(function(){}, 100)]")], [1, 2, 3]);
  assert.equal(emu.run('try { clearTimeout(undefined) } catch (e) { e.message }'), "clearTimeout(undefined) not allowed. Use clearTimeout() instead");
  emu.run("clearTimeout()"); // clears all
  assert.equal(emu.run("setTimeout(function(){}, 1)"), 1);
});

test("no function hoisting: a function exists only once its declaration ran", async (t) => {
  const { emu } = await boot(t, "");
  assert.equal(emu.run("var before = typeof g; function g() { return 1; } before + ' ' + typeof g"), "undefined function");
  emu.run("early(); function early() {}");
  assert.equal(emu.errors.length, 1);
  assert.match(String(emu.errors[0]), /early is not a function/);
  assert.equal(emu.run("function outer() { var r = inner(); function inner() { return 2; } return r; } try { outer() } catch (e) { 'threw' }"), "threw");
  assert.equal(emu.run("function a(){return 'a'}function b(){return a()+'b'} b()"), "ab");
  assert.equal(emu.run("if (true) { function inBlock() { return 3; } } inBlock()"), 3);
});

test("emit is asynchronous, max 4 args, this = emitter, listeners are '#on' properties", async (t) => {
  const { emu, lines } = await boot(t, "");
  emu.run(`var seq = [];
    var o = { name: "o" };
    o.on("ev", function (a, b) { seq.push("ev " + a + " " + b + " " + (this === o)); });
    o.emit("ev", 1, 2);
    seq.push("after emit");
    var thrown;
    try { o.emit("ev", 1, 2, 3, 4, 5); } catch (e) { thrown = String(e); }
    var keys = Object.keys(o);`);
  assert.deepEqual([...emu.global.seq], ["after emit"]);
  assert.equal(emu.global.thrown, "TypeError: Too many arguments (>4)");
  assert.deepEqual([...emu.global.keys], ["name", "#onev"]);
  await until(() => emu.global.seq.length === 3, "events");
  assert.deepEqual([...emu.global.seq], ["after emit", "ev 1 2 true", "ev 1 2 true"]); // >4 still queues 4
  emu.run(`var p = {}; p.on("x", function () { throw new Error("first"); }); p.on("x", function () { seq.push("second ran"); }); p.emit("x");`);
  await until(() => emu.global.seq.includes("second ran"), "second listener");
  assert.ok(lines.includes("Uncaught Error: first"));
});

test("uncaught errors in timers are reported and the loop keeps running", async (t) => {
  const { emu, lines } = await boot(t, "");
  emu.run(`var n = 0; var iv = setInterval(function () { n++; if (n == 3) clearInterval(iv); throw new Error("tick " + n); }, 5);`);
  await until(() => emu.global.n === 3, "3 ticks");
  await sleep(30);
  assert.equal(emu.global.n, 3);
  assert.deepEqual(emu.errors.map(String), ["Error: tick 1", "Error: tick 2", "Error: tick 3"]);
  assert.ok(lines.includes("Uncaught Error: tick 2"));
});

// --------------------------------------------------------------------------- net
test("socket.write: jsvAsString conversions, returns false", async (t) => {
  const { port, events } = await boot(t, fixture("net-probe.js"));
  const c = client(port);
  await c.connected;
  c.sock.write("CMD:types");
  await until(() => c.closed, "server end");
  assert.equal(c.text(), "65,66,67|0,200,255|1,2,3|12.5|[object Object]|null");
  assert.ok(events().includes("write returned false"));
});

test("'data' gives binary strings of at most chunkSize bytes, reassembling exactly", async (t) => {
  const { emu, port } = await boot(t, fixture("net-probe.js"));
  const c = client(port);
  await c.connected;
  const sent = Buffer.alloc(5000);
  for (let i = 0; i < sent.length; i++) sent[i] = (i * 7) & 255;
  sent[0] = 0x00; sent[1] = 0xff; sent[2] = 0x80;
  c.sock.write(sent);
  await until(() => emu.global.chunks.join("").length === 5000, "5000 bytes");
  const chunks = [...emu.global.chunks];
  assert.ok(chunks.length >= 10, `several chunks (${chunks.length})`);
  assert.ok(chunks.every((s) => typeof s === "string" && s.length <= 536));
  assert.equal(chunks.join(""), sent.toString("latin1"));
  assert.ok(!emu.global.events.includes("NOT A STRING"));
  c.sock.destroy();
});

test("'drain' fires once, when the whole queue is sent; end() closes after flushing", async (t) => {
  const { port, events } = await boot(t, fixture("net-probe.js"));
  const c = client(port);
  await c.connected;
  c.sock.write("CMD:drain");
  await until(() => events().includes("close false"), "close");
  assert.deepEqual([...events()], ["connect", "cmd drain", "queued", "drain true", "end 0", "close false"]);
  await until(() => c.ended, "client end");
  assert.equal(c.text(), "0123456789".repeat(300) + "E");
});

test("write after end() throws 'This socket is closed'; no drain after end()", async (t) => {
  const { port, events } = await boot(t, fixture("net-probe.js"));
  const c = client(port);
  await c.connected;
  c.sock.write("CMD:endwrite");
  await until(() => c.closed && events().includes("close false"), "close");
  assert.equal(c.text(), "bye");
  assert.ok(events().includes("threw Error: This socket is closed"));
  assert.ok(events().includes("second end ok"));
  assert.ok(!events().includes("drain after end"));
});

test("peer disconnect: 'end' then 'close'(false); with unsent data: error -8 first", async (t) => {
  const { port, events } = await boot(t, fixture("net-probe.js"));
  const c = client(port);
  await c.connected;
  c.sock.end("bye");
  await until(() => events().includes("close false"), "close");
  assert.deepEqual([...events()], ["connect", "end 0", "close false"]);

  events().length = 0;
  const d = client(port);
  d.sock.on("data", () => d.sock.destroy()); // go away while the server still has ~1 MB queued
  await d.connected;
  d.sock.write("CMD:flood");
  await until(() => events().some((e) => e.startsWith("close")), "close");
  assert.deepEqual([...events()], ["connect", "cmd flood", "error -8 unsent data", "end 0", "close true"]);
});

test("an exception in a 'data' handler is reported and the handler stays registered", async (t) => {
  const { emu, port, lines } = await boot(t, fixture("net-probe.js"));
  const c = client(port);
  await c.connected;
  c.sock.write("CMD:throw");
  await until(() => emu.errors.length === 1, "first error");
  c.sock.write("CMD:throw");
  await until(() => emu.errors.length === 2, "second error");
  assert.equal(lines.filter((l) => l === "Uncaught Error: handler failed").length, 2);
  c.sock.destroy();
});

test("data that arrives before the 'data' listener is delivered once it is attached", async (t) => {
  const { port, emu } = await boot(t, fixture("late-listener.js"));
  const c = client(port);
  await c.connected;
  c.sock.write("hello");
  await until(() => c.ended, "reply");
  assert.equal(c.text(), "ok");
  assert.equal(emu.global.got.join(""), "hello");
});

test("E.pipe streams a 64 KB string through a socket intact, then ends it", async (t) => {
  const { port, events } = await boot(t, fixture("net-probe.js"));
  const c = client(port);
  await c.connected;
  c.sock.write("CMD:pipe");
  await until(() => c.ended, "end of pipe", 5000);
  const expect = Buffer.alloc(65536);
  for (let i = 0; i < expect.length; i++) expect[i] = i & 255;
  assert.ok(c.data.equals(expect));
  await until(() => events().includes("complete"), "complete");
});

test("http: request parsing, 'Connection: close', status line", async (t) => {
  const { port } = await boot(t, `require("http").createServer(function (req, res) {
      res.writeHead(201, { "Content-Type": "text/plain" });
      res.end(req.method + " " + req.url + " " + req.headers["x-Test"]);
    }).listen(80);`);
  const res = await new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path: "/a?b=1", headers: { "x-Test": "yes" } }, (r) => {
      let body = "";
      r.on("data", (d) => (body += d));
      r.on("end", () => resolve({ r, body }));
    }).on("error", reject);
  });
  assert.equal(res.r.statusCode, 201);
  assert.equal(res.r.statusMessage, "OK");
  assert.equal(res.r.headers.connection, "close");
  assert.equal(res.r.headers.server, "Espruino 2v29");
  assert.equal(res.body, "GET /a?b=1 yes");
});

test("stop() closes servers and sockets; the port is free afterwards", async (t) => {
  const { emu, port } = await boot(t, fixture("net-probe.js"));
  const c = client(port);
  await c.connected;
  emu.run("setInterval(function () {}, 10);");
  await emu.stop();
  await until(() => c.closed, "client closed");
  const srv = net.createServer();
  await new Promise((res, rej) => srv.once("error", rej).listen(port, "127.0.0.1", res));
  await new Promise((res) => srv.close(res));
});

// ----------------------------------------------------------------------- Storage
test("Storage: create, read, pieces, the 0xFF rule, limits, conversions", async (t) => {
  const { emu } = await boot(t, "");
  const r = (code) => emu.run(`var S = require("Storage"); (function () { try { return ${code}; } catch (e) { return String(e); } })()`);
  assert.equal(r('S.write("a", "hello")'), true);
  assert.equal(r('S.read("a")'), "hello");
  assert.equal(r('S.read("nope")'), undefined);
  assert.equal(r('[S.read("a", 1, 3), S.read("a", 3), S.read("a", 9)].join("|")'), "ell|lo|");
  assert.equal(r('S.write("p", "hello", 0, 11)'), true);
  assert.equal(r('S.read("p")'), "hello" + "\xff".repeat(6));
  assert.equal(r('S.write("p", " world", 5)'), true);
  assert.equal(r('S.read("p")'), "hello world");
  assert.equal(r('S.write("p", "X", 3)'), "Error: File already written with different data");
  assert.equal(r('S.write("p", "!!", 10)'), "Error: Too much data for file size");
  assert.equal(r('S.write("q", "x", 5)'), "Error: Unable to find or create file");
  assert.equal(r('S.write("e", "")'), "Error: Can't create zero length file");
  assert.equal(r('S.write("big", "x", 0, 300000)'), "Error: Unable to find or create file");
  assert.equal(r('S.write("n", 123) && S.read("n")'), "{");
  assert.equal(r('S.write("arr", [65, 66, 300]) && S.read("arr")'), "AB,");
  assert.equal(r('S.write("o", {a: 1}) && S.readJSON("o").a'), 1);
  assert.equal(r('S.writeJSON("j", {a: "x", b: [1, 2]}) && S.read("j")'), '{a:"x",b:[1,2]}');
  assert.equal(r('JSON.stringify(S.readJSON("j"))'), '{"a":"x","b":[1,2]}');
  assert.equal(r('S.readJSON("a", true)'), undefined);
  assert.equal(r('new Uint8Array(S.readArrayBuffer("a"))[1]'), 101);
  const stats = emu.run('S.getStats()');
  assert.equal(r('S.write("a", "hello"), S.getStats().trashCount'), stats.trashCount); // identical: no-op
  assert.equal(r('S.write("a", "HELLO"), S.getStats().trashCount'), stats.trashCount + 1);
  assert.equal(r('S.read("a")'), "HELLO");
  const long = "abcdefghijklmnopqrstuvwxyz0123456789";
  assert.equal(r(`S.write("${long}", "L") && S.list(/^abc/).join()`), long.slice(0, 28));
  assert.equal(r(`S.read("${long}")`), "L");
  assert.equal(r('S.erase("p"), S.list().indexOf("p")'), -1);
  assert.equal(r('S.getFree() === S.getStats().freeBytes'), true);
});

test("Storage: image layout (headers, NUL-padded names, zeroed deleted names, 0xFF padding)", async (t) => {
  const flash = tmpImage();
  const { emu } = await boot(t, "", { flash });
  emu.run('var S = require("Storage"); S.write("a", "hello"); S.write("b", "xyz", 0, 6); S.write("a", "HELLO");');
  const img = fs.readFileSync(flash);
  assert.equal(img.length, 262144);
  assert.equal(img.readUInt32LE(0), 5);
  assert.deepEqual([...img.subarray(4, 8)], [0, 0, 0, 0]); // old "a" deleted
  assert.equal(img.toString("latin1", 32, 40), "hello\xff\xff\xff");
  assert.equal(img.readUInt32LE(40), 6);
  assert.equal(img.toString("latin1", 44, 72), "b" + "\0".repeat(27));
  assert.equal(img.toString("latin1", 72, 80), "xyz\xff\xff\xff\xff\xff");
  assert.equal(img.readUInt32LE(80), 5);
  assert.equal(img.toString("latin1", 84, 85), "a");
  assert.ok(img.subarray(120).every((b) => b === 0xff));
});

test("Storage: auto-compaction when trash makes room; error when full", async (t) => {
  const { emu, lines } = await boot(t, "", { flashSize: 8192, pageSize: 1024 });
  const r = (code) => emu.run(`var S = require("Storage"); (function () { try { return ${code}; } catch (e) { return String(e); } })()`);
  r('S.write("a", "A".repeat(3000)), S.write("b", "B".repeat(3000))');
  assert.equal(r('S.write("c", "C".repeat(3000))'), "Error: Unable to find or create file");
  assert.equal(lines.includes("Compacting..."), false);
  r('S.erase("a")');
  assert.equal(r('S.write("c", "C".repeat(3000))'), true);
  assert.ok(lines.includes("Compacting..."));
  assert.equal(r('S.read("b") === "B".repeat(3000) && S.read("c") === "C".repeat(3000)'), true);
  assert.deepEqual([...emu.run('S.list()')], ["b", "c"]);
  assert.equal(r('S.getStats().trashCount'), 0);
});

test("Storage: persists across emulator instances on the same image", async (t) => {
  const flash = tmpImage();
  const a = await boot(t, "", { flash });
  a.emu.run('require("Storage").write("keep", "persisted\\x00\\xff")');
  await a.emu.stop();
  const b = await boot(t, "", { flash });
  assert.equal(b.emu.run('require("Storage").read("keep")'), "persisted\x00\xff");
});

test("Storage: a process killed mid-upload leaves the file with a 0xFF tail", async () => {
  const flash = tmpImage();
  const fx = path.join(here, "fixtures/emu/storage-crash.js");
  const child = spawn(process.execPath, [CLI, fx, "--flash", flash], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  await until(() => out.includes("READY"), "READY");
  child.kill("SIGKILL");
  await new Promise((r) => child.on("exit", r));
  const emu = createEspruino({ flash, log: () => {} });
  try {
    assert.equal(emu.run('require("Storage").read("done")'), "complete file");
    assert.equal(emu.run('require("Storage").read("partial")'), "first half|" + "\xff".repeat(11));
  } finally { await emu.stop(); }
});

// --------------------------------------------------------------- crypto, E, memory
test("crypto.SHA1 returns a 20-byte ArrayBuffer; E.CRC32 matches 2v29", async (t) => {
  const { emu } = await boot(t, "");
  const ab = emu.run('require("crypto").SHA1("abc")');
  assert.equal(Object.prototype.toString.call(ab), "[object ArrayBuffer]");
  assert.equal(Buffer.from(ab).toString("hex"), crypto.createHash("sha1").update("abc").digest("hex"));
  const bin = emu.run('btoa(require("crypto").SHA1(new Uint8Array([0, 255, 1])))');
  assert.equal(bin, crypto.createHash("sha1").update(Buffer.from([0, 255, 1])).digest("base64"));
  assert.deepEqual([...emu.run('[E.CRC32("hello"), E.CRC32("a"), E.CRC32(new Uint8Array([1, 2, 3]))]')], [907060870, 3904355907, 1438416925]);
  assert.equal(emu.run('btoa(new Uint8Array([0, 255])) + " " + btoa([65, 66])'), "AP8= QUI=");
  assert.deepEqual([...emu.run('atob("AP8=")')].map((c) => c.charCodeAt(0)), [0, 255]);
  assert.equal(emu.run('E.toString([65, 66], "x", new Uint8Array([67]))'), "ABxC");
  assert.deepEqual([...emu.run('E.toUint8Array("AB", [1, 2], 3, {data: "x", count: 2})')], [65, 66, 1, 2, 3, 120, 120]);
});

test("process.memory(): usage grows with 1000 objects and returns when they are dropped", async (t) => {
  const { emu } = await boot(t, "");
  const m0 = emu.run("process.memory()");
  assert.deepEqual(Object.keys(m0), ["free", "usage", "total", "history", "gc", "gctime", "blocksize"]);
  assert.equal(m0.free + m0.usage, m0.total);
  const u0 = m0.usage;
  const u1 = emu.run("var objs = []; for (var i = 0; i < 1000; i++) objs.push({ a: i }); process.memory().usage");
  assert.ok(u1 - u0 >= 2000 && u1 - u0 <= 4000, `grew by ${u1 - u0}`);
  const u2 = emu.run("objs = undefined; process.memory().usage");
  assert.ok(Math.abs(u2 - u0) < 10, `back to ${u2} from ${u0}`);
});

// ------------------------------------------------------------------------------- CLI
test("cli: runs a bundle with --port (SPRAT_PORT), exits 0 on SIGINT", async () => {
  const free = await new Promise((res) => { const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); }); });
  const fx = path.join(here, "fixtures/emu/cli-server.js");
  const child = spawn(process.execPath, [CLI, fx, "--flash", tmpImage(), "--port", String(free)], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  try {
    await until(() => err.includes(`listening on 127.0.0.1:${free}`), "listening");
    assert.ok(out.includes("started"));
    const c = client(free);
    await until(() => c.ended, "greeting");
    assert.equal(c.text(), "hi from EMULATOR");
  } finally {
    child.kill("SIGINT");
  }
  const code = await new Promise((r) => child.on("exit", r));
  assert.equal(code, 0);
});

test("String indexOf/includes reproduce Espruino 2v29's false match at the end of the string", async (t) => {
  const out = [];
  const emu = createEspruino({ flash: tmpImage(), flashSize: 65536, pageSize: 4096, log: (l) => out.push(l) });
  t.after(() => emu.stop());
  // the same cases as the real binary answered: [haystack, needle, fromIndex?] -> index
  const cases = [["abc", "cd", 2], ["abc", "bcd", 1], ["abc", "xc", -1], [",a,", ",b,", 2], [",a,b,", ",b,", 2],
    ['"abc"', '"def"', 4], ["ab", "abc", -1], ["abc", "", 0], ["aXbc", "Xz", -1], ["", "", -1]];
  emu.run(`print(JSON.stringify(${JSON.stringify(cases)}.map(function (c) { return c[0].indexOf(c[1]); })), "abc".includes("cd"), "abcabc".indexOf("cab", 1));`, "ix.js");
  assert.deepEqual(out, [JSON.stringify(cases.map((c) => c[2])) + " true 2"]);
});
