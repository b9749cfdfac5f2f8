// A raw-TCP WebSocket client for sprat's conformance suite (test/ws.test.mjs): it writes
// exactly the bytes a test gives it, in the pieces it gives them, and reports exactly what
// the server sent, with timestamps, including how and when TCP closed.
//
//   wsKey() → a random Sec-WebSocket-Key; acceptFor(key) → the expected Sec-WebSocket-Accept
//   buildRequest({ method, path, httpVersion, headers: [[name, value], …] }) → string
//   upgradeHeaders(port, { key, version, origin, protocol, extra }) → [[name, value], …]
//   httpExchange(port, request, { timeout }) → { status, headers, body, tcpClosed }: one
//     request, the whole response (read until TCP closes or Content-Length is satisfied)
//   Conn.connect(port, opts) → a TCP connection; opts: autoPong (true: answer pings with
//     the same payload; they are then kept out of the frame queue, in conn.pings),
//     echoClose (true: answer a close frame with one carrying the same code, like a
//     well-behaved client; the server ends TCP on it)
//   openWs(port, { path, protocol, origin, headers, …Conn opts }) → { conn, res }: handshake
//     done and checked (101, Sec-WebSocket-Accept)
//   conn.write(buf) → resolves when flushed to the kernel; writes after the peer left are
//     swallowed (recorded in conn.writeErrors)
//   conn.writePieces(pieces, { delay }) → each piece as its own write (delay ms between)
//   conn.response(ms) → the HTTP response head { status, headers, raw }
//   conn.frame(ms) → the next frame { fin, rsv, op, masked, len, payload, t }
//   conn.message(ms) → the next data message reassembled { op, data, frames }
//   conn.closing(ms) → { code, reason, payload, frame, before, tcpClosed, closeAt, tcpAt }: frames
//     up to the server's close frame (before: data frames on the way), then TCP's close
//   conn.tcpClosed(ms) → true once the server closed TCP (FIN or RST), false on timeout
//   conn.wait(check, ms, what) → check()'s first truthy value, re-checked on every event
//   conn.pause() / conn.resume(): stop / go on reading; conn.destroy()
//   conn.localPort: the client's end of the TCP connection
//   Conn.relay(port, opts) → a Conn whose TCP connection is made by
//     test/fixtures/ws/tcp-relay.py with a 536-byte MSS and a 2 KB receive buffer, relayed
//     over pipes (node can't set those socket options); conn.pause() makes the relay stop
//     reading the socket, which then stalls within ~50 KB. openWs(port, { relay: true }).
//     Needs python3.
import net from "node:net";
import path from "node:path";
import crypto from "node:crypto";
import { EventEmitter } from "node:events";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { FrameDecoder, OP, encode, parseClose } from "./ws-frames.mjs";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
export const wsKey = () => crypto.randomBytes(16).toString("base64");
export const acceptFor = (key) => crypto.createHash("sha1").update(key + GUID).digest("base64");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function buildRequest({ method = "GET", path = "/echo", httpVersion = "1.1", headers = [] } = {}) {
  return `${method} ${path} HTTP/${httpVersion}\r\n` + headers.map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n";
}

export function upgradeHeaders(port, { key = wsKey(), version = "13", origin, protocol, extra = [] } = {}) {
  const h = [["Host", `127.0.0.1:${port}`], ["Upgrade", "websocket"], ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", key], ["Sec-WebSocket-Version", version]];
  if (origin !== undefined) h.push(["Origin", origin]);
  if (protocol !== undefined) h.push(["Sec-WebSocket-Protocol", protocol]);
  return h.concat(extra);
}

/** "Name: value" lines → { lowercased name: value } (repeats joined with ", "). */
function parseHead(raw) {
  const lines = raw.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]) || [];
  const headers = {};
  for (const l of lines.slice(1)) {
    if (!l) continue;
    const i = l.indexOf(":");
    const k = l.slice(0, i).trim().toLowerCase(), v = l.slice(i + 1).trim();
    headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
  }
  return { status: Number(m[1]), reason: m[2], headers, raw };
}

const RELAY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/ws/tcp-relay.py");

/** The parts of a net.Socket that Conn uses, over the relay's stdin/stdout. */
class RelaySocket extends EventEmitter {
  constructor(child, localPort) {
    super();
    this.child = child;
    this.localPort = localPort;
    this.destroyed = false;
    child.stdin.on("error", () => {}); // EPIPE once the relay is gone: seen by write()'s callback
    child.stdout.on("data", (d) => this.emit("data", d));
    child.stdout.on("end", () => this.emit("end"));
    child.on("close", () => { this.destroyed = true; this.emit("close"); });
  }
  get writableEnded() { return this.child.stdin.writableEnded || this.child.stdin.destroyed; }
  write(buf, cb) { return this.child.stdin.write(buf, cb); }
  // the relay stops / goes on reading the socket (a paused pipe would hold 16 KB + more)
  pause() { this.child.kill("SIGUSR1"); }
  resume() { this.child.kill("SIGUSR2"); }
  destroy() { if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL"); }
}

export class Conn {
  static connect(port, opts = {}) {
    if (opts.relay) return Conn.relay(port, opts);
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port, host: "127.0.0.1", noDelay: true });
      sock.once("error", reject);
      sock.once("connect", () => { sock.off("error", reject); resolve(new Conn(sock, opts)); });
    });
  }

  static relay(port, opts = {}) {
    return new Promise((resolve, reject) => {
      const child = spawn(process.env.PYTHON || "python3", [RELAY, String(port)], { stdio: ["pipe", "pipe", "pipe"] });
      let err = "";
      child.once("error", reject);
      child.stderr.on("data", (d) => {
        err += d;
        const m = /relay (\d+)\n/.exec(err);
        if (m) { child.off("error", reject); resolve(new Conn(new RelaySocket(child, Number(m[1])), opts)); }
      });
      child.once("exit", (code) => reject(new Error(`tcp-relay.py exited (${code}): ${err}`)));
    });
  }

  constructor(sock, { autoPong = true, echoClose = true } = {}) {
    this.sock = sock;
    this.autoPong = autoPong;
    this.echoClose = echoClose;
    this.head = null;          // the HTTP response head, once complete
    this.httpBuf = Buffer.alloc(0);
    this.dec = new FrameDecoder();
    this.queue = [];           // frames not yet taken
    this.pings = [];           // server pings answered automatically
    this.waiters = [];
    this.rx = 0;               // bytes received
    this.writeErrors = [];
    this.sentClose = false;
    this.endAt = 0;            // when the server's FIN (or RST) arrived
    this.closedAt = 0;         // when the socket closed
    this.error = null;
    this.localPort = sock.localPort;
    sock.on("data", (d) => this.onData(d));
    sock.on("end", () => { this.endAt = this.endAt || performance.now(); this.poke(); });
    sock.on("error", (e) => { this.error = e; this.endAt = this.endAt || performance.now(); this.poke(); });
    sock.on("close", () => { this.closedAt = performance.now(); this.endAt = this.endAt || this.closedAt; this.poke(); });
  }

  poke() { for (const w of [...this.waiters]) w(); }

  onData(d) {
    this.rx += d.length;
    if (!this.head) {
      this.httpBuf = Buffer.concat([this.httpBuf, d]);
      const i = this.httpBuf.indexOf("\r\n\r\n");
      if (i < 0) return this.poke();
      this.head = parseHead(this.httpBuf.subarray(0, i).toString("latin1"));
      d = this.httpBuf.subarray(i + 4);
      this.httpBuf = null;
      if (this.head.status !== 101) { this.body = Buffer.from(d); this.poke(); return; }
    } else if (this.body) { this.body = Buffer.concat([this.body, d]); this.poke(); return; }
    const t = performance.now();
    for (const f of this.dec.push(d)) {
      f.t = t;
      if (f.op === OP.ping && this.autoPong) {
        this.pings.push(f);
        this.write(encode(OP.pong, f.payload));
        continue;
      }
      if (f.op === OP.close && this.echoClose && !this.sentClose) {
        this.sentClose = true;
        const { code } = parseClose(f.payload);
        this.write(encode(OP.close, code === undefined ? Buffer.alloc(0) : f.payload.subarray(0, 2)));
      }
      this.queue.push(f);
    }
    this.poke();
  }

  /** Resolves with check()'s first truthy result, re-checked on every event; rejects after ms. */
  wait(check, ms, what) {
    return new Promise((resolve, reject) => {
      let timer;
      const w = () => {
        let v;
        try { v = check(); } catch (e) { done(); return reject(e); }
        if (v) { done(); resolve(v); }
      };
      const done = () => { clearTimeout(timer); this.waiters = this.waiters.filter((x) => x !== w); };
      timer = setTimeout(() => { done(); reject(new Error(`timed out after ${ms} ms waiting for ${what}` + this.describe())); }, ms);
      this.waiters.push(w);
      w();
    });
  }

  describe() {
    const q = this.queue.map((f) => `op ${f.op}${f.fin ? "" : " (FIN=0)"} ${f.len} B` + (f.op === 8 ? ` code ${parseClose(f.payload).code}` : "")).join(", ");
    return ` (queued frames: ${q || "none"}; received ${this.rx} B; ${this.pings.length} pings answered; TCP ${this.endAt ? "closed" + (this.error ? " by " + (this.error.code || this.error.message) : "") : "open"})`;
  }

  write(buf) {
    if (buf[0] !== undefined && (buf[0] & 15) === OP.close && this.head) this.sentClose = true;
    return new Promise((resolve) => {
      if (this.sock.destroyed || this.sock.writableEnded) { this.writeErrors.push("socket gone"); return resolve(false); }
      this.sock.write(buf, (e) => { if (e) this.writeErrors.push(e.code || e.message); resolve(!e); });
    });
  }

  async writePieces(pieces, { delay = 0 } = {}) {
    for (const p of pieces) {
      await this.write(p);
      if (delay) await sleep(delay);
    }
  }

  response(ms = 5000) { return this.wait(() => this.head, ms, "the HTTP response head"); }

  frame(ms = 5000) { return this.wait(() => this.queue.shift(), ms, "a frame"); }

  /** The next data message, reassembled; pongs in between are skipped. A close or a broken
   * fragment sequence rejects with a message saying what came instead. */
  async message(ms = 5000) {
    const t0 = performance.now();
    let op = 0, parts = [], n = 0;
    for (;;) {
      const f = await this.frame(Math.max(1, ms - (performance.now() - t0)));
      if (f.op === OP.pong || f.op === OP.ping) continue;
      if (f.op === OP.close) throw new Error(`a close frame (code ${parseClose(f.payload).code}) came instead of a message`);
      if (f.masked) throw new Error("the server masked a frame");
      if (f.rsv) throw new Error(`the server set RSV bits ${f.rsv}`);
      if (!op) {
        if (f.op !== OP.text && f.op !== OP.binary) throw new Error(`a message started with opcode ${f.op}`);
        op = f.op;
      } else if (f.op !== OP.cont) throw new Error(`opcode ${f.op} inside a fragmented message`);
      parts.push(f.payload);
      n++;
      if (f.fin) return { op, data: Buffer.concat(parts), frames: n };
    }
  }

  /** Frames up to the close frame, then TCP's close. */
  async closing(ms = 5000) {
    const t0 = performance.now(), before = [];
    let f;
    for (;;) {
      f = await this.frame(Math.max(1, ms - (performance.now() - t0)));
      if (f.op === OP.close) break;
      before.push(f);
    }
    const { code, reason } = parseClose(f.payload);
    const tcpClosed = await this.tcpClosed(Math.max(1, ms - (performance.now() - t0)));
    return { code, reason, payload: f.payload, frame: f, before, tcpClosed, closeAt: f.t, tcpAt: this.endAt };
  }

  async tcpClosed(ms = 5000) {
    try { await this.wait(() => this.endAt, ms, "TCP to close"); return true; } catch { return false; }
  }

  pause() { this.sock.pause(); }
  resume() { this.sock.resume(); }
  destroy() { this.sock.destroy(); }
}

/** Connects, sends the upgrade request and checks the 101 and Sec-WebSocket-Accept. */
export async function openWs(port, { path = "/echo", protocol, origin, headers, key = wsKey(), ...opts } = {}) {
  const conn = await Conn.connect(port, opts);
  await conn.write(Buffer.from(buildRequest({ path, headers: headers || upgradeHeaders(port, { key, protocol, origin }) }), "latin1"));
  const res = await conn.response();
  if (res.status !== 101) { conn.destroy(); throw new Error(`handshake on ${path}: ${res.raw}`); }
  if (res.headers["sec-websocket-accept"] !== acceptFor(key)) { conn.destroy(); throw new Error(`bad Sec-WebSocket-Accept: ${res.raw}`); }
  return { conn, res };
}

/** One HTTP request on a fresh connection and the whole response. */
export async function httpExchange(port, request, { timeout = 5000 } = {}) {
  const conn = await Conn.connect(port);
  try {
    await conn.write(Buffer.from(request, "latin1"));
    const res = await conn.response(timeout);
    const len = Number(res.headers["content-length"]);
    const body = () => conn.body || Buffer.alloc(0);
    // the body, then (for an error) the server's close
    await conn.wait(() => conn.endAt || (len >= 0 && body().length >= len), timeout, "the response body").catch(() => {});
    if (!conn.endAt) await conn.tcpClosed(1500);
    return { ...res, body: body().toString("latin1"), tcpClosed: !!conn.endAt };
  } finally { conn.destroy(); }
}
