// Load generators for tools/bench.mjs: raw TCP clients (node:net) for WebSocket, HTTP/1.1
// and plain echo, so the client adds as little work per message as possible and nothing
// is hidden by a library (pooling, decompression). Every loop is bounded in count AND time.
import net from "node:net";
import { performance } from "node:perf_hooks";

export const HOST = "127.0.0.1";
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A connected socket (rejects on error or after ms). */
export function connect(port, ms = 5000) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: HOST });
    s.setNoDelay(true);
    const t = setTimeout(() => { s.destroy(); reject(new Error(`connect 127.0.0.1:${port}: timeout`)); }, ms);
    s.once("connect", () => { clearTimeout(t); s.removeListener("error", reject); resolve(s); });
    s.once("error", (e) => { clearTimeout(t); reject(e); });
  });
}

/** A client -> server frame (masked, as RFC 6455 requires). */
export function frame(payload, op = 1, fin = true) {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([(fin ? 0x80 : 0) | op, 0x80 | n])
    : n < 65536 ? Buffer.from([(fin ? 0x80 : 0) | op, 0x80 | 126, n >> 8, n & 255])
      : Buffer.from([(fin ? 0x80 : 0) | op, 0x80 | 127, 0, 0, 0, 0, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255]);
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = payload[i] ^ MASK[i & 3];
  return Buffer.concat([head, MASK, body]);
}

/** Masks payload bytes [from, from+len) as part of a frame whose payload starts at 0. */
export function maskPart(payload, from, len) {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i++) out[i] = payload[from + i] ^ MASK[(from + i) & 3];
  return out;
}

/** The head of a masked frame of n payload bytes (the payload follows, masked with maskPart). */
export function frameHead(n, op = 1) {
  const h = n < 126 ? [0x80 | op, 0x80 | n] : n < 65536 ? [0x80 | op, 0xfe, n >> 8, n & 255]
    : [0x80 | op, 0xff, 0, 0, 0, 0, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255];
  return Buffer.concat([Buffer.from(h), MASK]);
}

export const CLOSE_FRAME = frame(Buffer.from([0x03, 0xe8]), 8);

/**
 * A WebSocket client over a raw socket. Messages are counted, not kept, unless keep is set:
 * onMessage(op, length, payload|null). Fragments are joined; pings are answered.
 */
export class Ws {
  constructor(sock, rest, keep) {
    this.sock = sock; this.keep = keep;
    this.buf = Buffer.alloc(0); this.msgLen = 0; this.msgOp = 0; this.parts = [];
    this.rx = 0; this.messages = 0; this.closed = false; this.onMessage = null; this.onClose = null;
    sock.on("data", (d) => this.data(d));
    sock.on("close", () => { this.closed = true; if (this.onClose) this.onClose(); });
    sock.on("error", () => {});
    if (rest && rest.length) this.data(rest);
  }
  data(d) {
    let b = this.buf.length ? Buffer.concat([this.buf, d]) : d, i = 0;
    for (;;) {
      if (b.length - i < 2) break;
      const op = b[i] & 15, fin = b[i] & 0x80;
      let len = b[i + 1] & 127, h = 2;
      if (len === 126) { if (b.length - i < 4) break; len = b.readUInt16BE(i + 2); h = 4; }
      else if (len === 127) { if (b.length - i < 10) break; len = b.readUInt32BE(i + 6) + b.readUInt32BE(i + 2) * 2 ** 32; h = 10; }
      if (b.length - i < h + len) break;
      const p = b.subarray(i + h, i + h + len);
      i += h + len;
      this.rx += len;
      if (op === 9) this.sock.write(frame(p, 10));
      else if (op === 8) { if (!this.closed && this.sock.writable) this.sock.end(); }
      else if (op !== 10) {
        if (op) this.msgOp = op;
        this.msgLen += len;
        if (this.keep) this.parts.push(Buffer.from(p));
        if (fin) {
          const n = this.msgLen, payload = this.keep ? Buffer.concat(this.parts) : null;
          this.msgLen = 0; this.parts = []; this.messages++;
          if (this.onMessage) this.onMessage(this.msgOp, n, payload);
        }
      }
    }
    this.buf = i < b.length ? Buffer.from(b.subarray(i)) : Buffer.alloc(0);
  }
  send(payload, op = 1) { this.sock.write(frame(payload, op)); }
  /** The next whole message: { op, length, payload }. */
  next(ms = 5000) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.onMessage = null; reject(new Error("no WebSocket message within " + ms + " ms")); }, ms);
      this.onMessage = (op, length, payload) => { clearTimeout(t); this.onMessage = null; resolve({ op, length, payload }); };
    });
  }
  /** Closing handshake (1000), then the TCP close; resolves when the socket is closed. */
  close(ms = 2000) {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.sock.destroy(); }, ms);
      this.sock.once("close", () => { clearTimeout(t); resolve(); });
      try { this.sock.write(CLOSE_FRAME); } catch { this.sock.destroy(); }
    });
  }
  destroy() { this.sock.destroy(); }
}

/** Opens a WebSocket (upgrade on path); resolves with a Ws once the 101 arrived. */
export async function wsOpen(port, path = "/echo", { proto = "", keep = false, ms = 5000 } = {}) {
  const sock = await connect(port, ms);
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const t = setTimeout(() => { sock.destroy(); reject(new Error(`no 101 from ${path} within ${ms} ms`)); }, ms);
    const onData = (d) => {
      head = Buffer.concat([head, d]);
      const e = head.indexOf("\r\n\r\n");
      if (e < 0) return;
      clearTimeout(t);
      sock.removeListener("data", onData);
      const status = head.toString("latin1", 0, 12);
      if (!status.startsWith("HTTP/1.1 101")) { sock.destroy(); reject(new Error(`${path}: ${head.toString("latin1", 0, e)}`)); return; }
      resolve(new Ws(sock, head.subarray(e + 4), keep));
    };
    sock.on("data", onData);
    sock.once("close", () => { clearTimeout(t); reject(new Error(`${path}: closed before 101`)); });
    sock.write(`GET ${path} HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${proto ? `Sec-WebSocket-Protocol: ${proto}\r\n` : ""}\r\n`);
  });
}

/** Percentile (0..1) of a sorted array. */
export function pct(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/**
 * Ping-pong: send one message, wait for the whole echo, repeat. transport: a Ws (frames) or a
 * raw socket (bytes; an echo is complete when as many bytes came back). Bounded by maxMsgs
 * and maxMs. Returns { n, secs, rate, rtts (ms) }.
 */
export function pingPong(transport, size, { maxMsgs = 2000, maxMs = 1000, warmup = 20 } = {}) {
  const payload = Buffer.alloc(size, "x"); // ASCII: valid UTF-8 in a text frame
  const isWs = transport instanceof Ws;
  const out = isWs ? frame(payload, 1) : payload;
  const sock = isWs ? transport.sock : transport;
  return new Promise((resolve, reject) => {
    const rtts = [];
    let n = -warmup, got = 0, t0 = 0, tStart = 0, done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      if (isWs) transport.onMessage = null; else sock.removeListener("data", onRaw);
      if (err) return reject(err);
      const secs = (performance.now() - tStart) / 1000;
      resolve({ n, secs, rate: n / secs, rtts });
    };
    const guard = setTimeout(() => finish(new Error(`ping-pong ${size} B: stalled`)), maxMs + 5000);
    const fire = () => { t0 = performance.now(); sock.write(out); };
    const one = () => {
      const t = performance.now();
      if (n >= 0) rtts.push(t - t0);
      n++;
      if (n === 0) tStart = t;
      if (n > 0 && (n >= maxMsgs || t - tStart >= maxMs)) return finish();
      fire();
    };
    const onRaw = (d) => { got += d.length; while (got >= size) { got -= size; one(); } };
    if (isWs) transport.onMessage = (op, len) => { if (len !== size) return finish(new Error(`echo of ${size} B came back as ${len} B`)); one(); };
    else sock.on("data", onRaw);
    if (warmup === 0) { n = 0; tStart = performance.now(); }
    fire();
  });
}

/**
 * Pipelined echo: `window` messages in flight, a new one sent as each echo completes, so the
 * server always has work queued (throughput, not latency). Bounded by maxMsgs and maxMs.
 * Returns { n, secs, rate }.
 */
export function pipelined(transport, size, { window = 16, maxMsgs = 50000, maxMs = 1000, warmup = 50 } = {}) {
  const payload = Buffer.alloc(size, "x");
  const isWs = transport instanceof Ws;
  const out = isWs ? frame(payload, 1) : payload;
  const sock = isWs ? transport.sock : transport;
  return new Promise((resolve, reject) => {
    let n = -warmup, got = 0, sent = 0, back = 0, tStart = performance.now(), result = null;
    const guard = setTimeout(() => end(new Error(`pipelined ${size} B: stalled`)), maxMs + 10000);
    const end = (err) => {
      clearTimeout(guard);
      if (isWs) transport.onMessage = null; else sock.removeListener("data", onRaw);
      if (err) reject(err); else resolve(result);
    };
    const one = () => {
      back++;
      if (result) { if (back >= sent) end(); return; } // the tail still in flight
      if (++n === 0) tStart = performance.now();
      if (n > 0 && (n >= maxMsgs || performance.now() - tStart >= maxMs)) {
        const secs = (performance.now() - tStart) / 1000;
        result = { n, secs, rate: n / secs };
        if (back >= sent) end();
        return;
      }
      sent++;
      sock.write(out);
    };
    const onRaw = (d) => { got += d.length; while (got >= size) { got -= size; one(); } };
    if (isWs) transport.onMessage = (op, len) => (len !== size ? end(new Error(`echo of ${size} B came back as ${len} B`)) : one());
    else sock.on("data", onRaw);
    for (let i = 0; i < window; i++) { sent++; sock.write(out); }
  });
}

/** Sends one text message of `size` bytes in `pieces` writes and resolves when it is echoed whole. */
export function bigEcho(ws, size, { pieces = 1, gapMs = 0, onPiece = null, ms = 30000 } = {}) {
  const payload = Buffer.alloc(size, "y");
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const guard = setTimeout(() => { ws.onMessage = null; reject(new Error(`echo of ${size} B: not back within ${ms} ms (${ws.msgLen} B so far)`)); }, ms);
    ws.onMessage = (op, len) => {
      clearTimeout(guard);
      ws.onMessage = null;
      if (len !== size) return reject(new Error(`echo of ${size} B came back as ${len} B`));
      resolve({ secs: (performance.now() - t0) / 1000 });
    };
    (async () => {
      ws.sock.write(frameHead(size, 1));
      const step = Math.ceil(size / pieces);
      for (let i = 0; i < size; i += step) {
        const n = Math.min(step, size - i);
        ws.sock.write(maskPart(payload, i, n));
        if (onPiece) await onPiece(i + n);
        else if (gapMs) await sleep(gapMs);
      }
    })().catch(reject);
  });
}

/** Parses a response head: { status, length (Content-Length or -1), headEnd } or null. */
function parseHead(b) {
  const e = b.indexOf("\r\n\r\n");
  if (e < 0) return null;
  const head = b.toString("latin1", 0, e);
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  return { status: Number(head.slice(9, 12)), length: m ? Number(m[1]) : -1, headEnd: e + 4, close: /\r\nconnection:\s*close/i.test(head) };
}

function request(port, path, keepAlive, headers = "") {
  return `GET ${path} HTTP/1.1\r\nHost: ${HOST}:${port}\r\nAccept-Encoding: gzip, deflate\r\n${headers}${keepAlive ? "" : "Connection: close\r\n"}\r\n`;
}

/**
 * Sequential GETs of one path, bounded by maxReq and maxMs. keepAlive: one connection for
 * all; else a new connection per request (Connection: close). Returns { n, body, wire,
 * secs, reqRate, mbps (body MB/s) }.
 */
export async function httpLoop(port, path, { keepAlive = true, maxReq = 500, maxMs = 1000, warmup = 3 } = {}) {
  let n = -warmup, body = 0, wire = 0, tStart = performance.now();
  if (!warmup) tStart = performance.now();
  const count = (r) => {
    if (r.status !== 200) throw new Error(`GET ${path}: status ${r.status}`);
    if (n >= 0) { body += r.body; wire += r.wire; }
    if (++n === 0) tStart = performance.now();
  };
  const more = () => n <= 0 || (n < maxReq && performance.now() - tStart < maxMs);
  if (keepAlive) {
    // a response with Connection: close (sprat closes after bodies over keepAliveMax) is
    // followed by a new connection, as a browser would do
    let sock = null;
    try {
      await new Promise((resolve, reject) => {
        let b = Buffer.alloc(0), h = null, closing = false;
        const guard = setInterval(() => { if (performance.now() - tStart > maxMs + 5000) reject(new Error(`GET ${path}: stalled`)); }, 500);
        const done = (e) => { clearInterval(guard); if (sock) sock.removeAllListeners(); e ? reject(e) : resolve(); };
        const open = () => connect(port).then((s) => {
          sock = s; b = Buffer.alloc(0); h = null; closing = false;
          s.on("data", onData);
          s.on("close", () => (closing ? next() : done(new Error(`GET ${path}: connection closed after ${n} responses`))));
          s.write(request(port, path, true));
        }, done);
        const next = () => (more() ? open() : done());
        const onData = (d) => {
          b = b.length ? Buffer.concat([b, d]) : d;
          for (;;) {
            if (!h) { h = parseHead(b); if (!h) return; if (h.length < 0) return done(new Error(`GET ${path}: no Content-Length`)); }
            if (b.length < h.headEnd + h.length) return;
            try { count({ status: h.status, body: h.length, wire: h.headEnd + h.length }); } catch (e) { return done(e); }
            if (h.close) { closing = true; b = Buffer.alloc(0); sock.end(); return; }
            b = b.subarray(h.headEnd + h.length);
            h = null;
            if (!more()) return done();
            sock.write(request(port, path, true));
          }
        };
        open();
      });
    } finally { if (sock) sock.destroy(); }
  } else {
    while (more()) count(await getOnce(port, path));
  }
  const secs = (performance.now() - tStart) / 1000;
  return { n, body, wire, secs, reqRate: n / secs, mbps: body / secs / 1e6 };
}

/** One GET on a new connection (Connection: close): { status, body (bytes), wire (bytes), headers }. */
export async function getOnce(port, path, { ms = 5000, headers = "" } = {}) {
  const sock = await connect(port, ms);
  return new Promise((resolve, reject) => {
    const chunks = [];
    const t = setTimeout(() => { sock.destroy(); reject(new Error(`GET ${path}: no complete response within ${ms} ms`)); }, ms);
    sock.on("data", (d) => chunks.push(d));
    sock.on("error", () => {});
    sock.on("close", () => {
      clearTimeout(t);
      const b = Buffer.concat(chunks), h = parseHead(b);
      if (!h) return reject(new Error(`GET ${path}: no response head (${b.length} bytes)`));
      const bodyLen = b.length - h.headEnd;
      if (h.length >= 0 && bodyLen !== h.length) return reject(new Error(`GET ${path}: ${bodyLen} of ${h.length} body bytes`));
      resolve({ status: h.status, body: bodyLen, wire: b.length, headers: b.toString("latin1", 0, h.headEnd) });
    });
    sock.write(request(port, path, false, headers));
  });
}

/** WebSocket handshake cycles (connect, upgrade, close handshake), sequential. */
export async function handshakeLoop(port, path, { maxN = 300, maxMs = 1000, warmup = 3 } = {}) {
  let n = -warmup, tStart = performance.now();
  while (n <= 0 || (n < maxN && performance.now() - tStart < maxMs)) {
    const ws = await wsOpen(port, path);
    await ws.close();
    if (++n === 0) tStart = performance.now();
  }
  const secs = (performance.now() - tStart) / 1000;
  return { n, secs, rate: n / secs };
}
