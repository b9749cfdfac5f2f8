// HTTP clients for test/http.test.mjs, over real sockets on 127.0.0.1:
// - RawConn: one TCP connection, bytes written exactly as given, responses parsed by hand
//   (no decoding, no normalisation), so status lines, header lists, bodies, framing and
//   closes can be asserted exactly;
// - get(): node:http without an agent or any decoding;
// - curl(): Debian's curl, spawned.
import net from "node:net";
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { execFile } from "node:child_process";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const show = (buf) => JSON.stringify(buf.toString("latin1").slice(0, 600));

/** A TCP connection to 127.0.0.1:port (no Nagle), once connected. */
export function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: "127.0.0.1", noDelay: true });
    s.once("error", reject);
    s.once("connect", () => { s.removeListener("error", reject); resolve(s); });
  });
}

export class RawConn {
  /** Connects to 127.0.0.1:port; resolves once connected. */
  static async open(port) {
    return new RawConn(await connect(port));
  }

  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0); // received, not yet taken by response()
    this.t0 = Date.now();
    this.closedAt = null;       // ms after open when the server's close (FIN or RST) was seen
    this.error = null;
    this.waiters = new Set();
    sock.on("data", (d) => { this.buf = Buffer.concat([this.buf, d]); this.poke(); });
    sock.on("error", (e) => { this.error = e; });
    sock.on("end", () => { if (this.closedAt === null) this.closedAt = Date.now() - this.t0; this.poke(); });
    sock.on("close", () => { if (this.closedAt === null) this.closedAt = Date.now() - this.t0; this.poke(); });
  }

  poke() { for (const w of this.waiters) w(); }

  get closed() { return this.closedAt !== null; }

  /** Writes a string (as latin1 bytes) or a Buffer. */
  write(data) {
    if (!this.sock.destroyed) this.sock.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  }

  /** Writes data one byte at a time, `gapMs` apart. */
  async trickle(data, gapMs) {
    const b = typeof data === "string" ? Buffer.from(data, "latin1") : data;
    for (let i = 0; i < b.length && !this.closed; i++) {
      this.write(b.subarray(i, i + 1));
      await sleep(gapMs);
    }
  }

  /** Resolves once pred() is true (checked on every event); rejects after ms. */
  until(pred, ms, what) {
    return new Promise((resolve, reject) => {
      const check = () => {
        let v;
        try { v = pred(); } catch (e) { done(); reject(e); return; }
        if (v) { done(); resolve(v); }
      };
      const done = () => { clearTimeout(timer); this.waiters.delete(check); };
      const timer = setTimeout(() => { done(); reject(new Error(`${what} not within ${ms} ms; received so far: ${show(this.buf)}${this.closed ? " (closed)" : ""}`)); }, ms);
      this.waiters.add(check);
      check();
    });
  }

  /**
   * The next complete response: { statusLine, status, headers (lowercased names → value; a
   * repeated name is an error), headerList ([name, value] as sent), head (the raw head text),
   * body (Buffer), raw (Buffer: the whole response) }. noBody: a response to HEAD.
   */
  async response({ noBody = false, timeout = 4000 } = {}) {
    return this.until(() => {
      const end = this.buf.indexOf("\r\n\r\n");
      if (end < 0) {
        if (this.closed) throw new Error(`connection closed inside a response head: ${show(this.buf)}`);
        return null;
      }
      const head = this.buf.toString("latin1", 0, end);
      const [statusLine, ...lines] = head.split("\r\n");
      const m = /^HTTP\/1\.[01] (\d{3}) (.*)$/.exec(statusLine);
      if (!m) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
      const headers = {}, headerList = [];
      for (const l of lines) {
        const i = l.indexOf(":");
        if (i < 1) throw new Error(`bad header line ${JSON.stringify(l)}`);
        const k = l.slice(0, i), v = l.slice(i + 1).trim();
        if (Object.hasOwn(headers, k.toLowerCase())) throw new Error(`header ${k} sent twice`);
        headers[k.toLowerCase()] = v;
        headerList.push([k, v]);
      }
      const status = Number(m[1]);
      let len = 0;
      if (!noBody && status !== 304 && status !== 204 && status >= 200) {
        if (headers["content-length"] === undefined) {
          if (!this.closed) return null; // read to the close
          len = this.buf.length - end - 4;
        } else len = Number(headers["content-length"]);
      }
      if (this.buf.length < end + 4 + len) {
        if (this.closed) throw new Error(`connection closed inside a body (${this.buf.length - end - 4} of ${len} bytes): ${show(this.buf)}`);
        return null;
      }
      const raw = this.buf.subarray(0, end + 4 + len);
      this.buf = this.buf.subarray(end + 4 + len);
      return { statusLine, status, headers, headerList, head, body: Buffer.from(raw.subarray(end + 4)), raw: Buffer.from(raw) };
    }, timeout, "a complete response");
  }

  /** Resolves with the ms (since open) at which the server closed; rejects after ms. */
  async waitClose(ms = 3000) {
    await this.until(() => this.closed, ms, "the server's close");
    return this.closedAt;
  }

  /** Everything received until the server closes (or ms pass), as a latin1 string. */
  async readAll(ms = 3000) {
    try { await this.waitClose(ms); } catch { /* report what there is */ }
    const s = this.buf.toString("latin1");
    this.buf = Buffer.alloc(0);
    return s;
  }

  destroy() { this.sock.destroy(); }
}

/** Sends `data` on a new connection; returns { text: everything received, closed } after the server closes or ms. */
export async function exchange(port, data, ms = 3000) {
  const c = await RawConn.open(port);
  try {
    c.write(data);
    const text = await c.readAll(ms);
    return { text, closed: c.closed };
  } finally { c.destroy(); }
}

/** A request with node:http, no agent (its own connection), no decoding. */
export function request(port, { method = "GET", path: p = "/", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path: p, headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * Runs Debian's curl with args + url; resolves { code, headers (lowercased map of the last
 * response), status, body (Buffer) }. The body goes to a file so binary stays binary.
 */
export function curl(args, url, tmpDir) {
  const id = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  const hf = path.join(tmpDir, `curl-${id}.h`), bf = path.join(tmpDir, `curl-${id}.b`);
  return new Promise((resolve, reject) => {
    execFile("curl", ["-sS", "--max-time", "10", "-D", hf, "-o", bf, ...args, url], { encoding: "utf8" }, (err, stdout, stderr) => {
      if (err) { reject(new Error(`curl ${args.join(" ")} ${url}: ${stderr || err.message}`)); return; }
      const lines = fs.readFileSync(hf, "latin1").split("\r\n");
      const headers = {};
      for (const l of lines.slice(1)) { const i = l.indexOf(":"); if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim(); }
      const body = fs.readFileSync(bf);
      fs.rmSync(hf, { force: true });
      fs.rmSync(bf, { force: true });
      resolve({ status: Number(lines[0].split(" ")[1]), headers, body });
    });
  });
}

// RFC 9110's reason phrases, for the exact status lines expected.
export const REASON = {
  200: "OK", 204: "No Content", 304: "Not Modified", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
  405: "Method Not Allowed", 406: "Not Acceptable", 408: "Request Timeout", 413: "Content Too Large", 414: "URI Too Long",
  426: "Upgrade Required", 431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented",
  503: "Service Unavailable", 505: "HTTP Version Not Supported",
};

/**
 * The exact bytes of one of sprat's plain-text error responses (http.ts fail()):
 * "<code> <reason>[: msg]\n", extra header lines before Content-Length, Connection: close
 * unless keepAlive.
 */
export function failResponse(code, { msg = "", extra = "", keepAlive = false } = {}) {
  const body = `${code} ${REASON[code]}${msg ? ": " + msg : ""}\n`;
  return `HTTP/1.1 ${code} ${REASON[code]}\r\nContent-Type: text/plain; charset=utf-8\r\n${extra}` +
    `Content-Length: ${Buffer.byteLength(body, "latin1")}\r\n${keepAlive ? "" : "Connection: close\r\n"}\r\n${body}`;
}
