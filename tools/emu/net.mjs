// require("net") server sockets, following libs/network/socketserver.c of 2v29.
// Accepted sockets are handled by socketClientConnectionsIdle; per idle pass and socket:
//   push leftover received data -> send ONE chunk (<= chunkSize; 'drain' when the queue
//   empties and end() wasn't called) -> recv ONE chunk (<= chunkSize) and call the
//   'data' listeners synchronously -> close if end() was called and the queue is empty,
//   or if the peer went away: queued 'error' (only -8 "unsent data" in practice on
//   Linux: RST and FIN both read as -1 "closed"), then 'end', then 'close'(hadError).
// write() converts with jsvAsString (Uint8Array -> "65,66,67"), appends to an unbounded
// JS-side queue, always returns false, and throws "This socket is closed" after end()
// or close. Sockets have no close(), remoteAddress, setTimeout, pause or resume.
// All of the above was also checked on the 2v29 Linux binary over loopback.
import net from "node:net";
import { asString } from "./bytes.mjs";

export const SOCKET_ERRORS = { "-1": "connection closed", "-8": "unsent data", "-9": "connection reset" };
const HIGH_WATER = 64 * 1024; // pause the host socket above this (TCP flow control)

/** A host socket seen the way Espruino's netRecv/netSend see it. */
export class Link {
  constructor(sock, rt) {
    this.sock = sock; this.rt = rt;
    this.rx = []; this.rxLen = 0; this.eof = false; this.err = null;
    const wake = () => rt.loop.wake();
    sock.on("data", (b) => {
      this.rx.push(b); this.rxLen += b.length;
      if (this.rxLen > HIGH_WATER) sock.pause();
      wake();
    });
    sock.on("end", () => { this.eof = true; wake(); });
    sock.on("close", () => { this.eof = true; rt.links.delete(this); wake(); });
    rt.links.add(this); // so stop() can destroy sockets still flushing after a close
    sock.on("error", (e) => { this.err = e; wake(); });
    sock.on("drain", wake);
  }
  /** A binary string (maybe ""), or a negative Espruino error code. */
  recv(max) {
    if (this.rxLen) {
      const all = this.rx.length === 1 ? this.rx[0] : Buffer.concat(this.rx);
      const take = all.subarray(0, max);
      const rest = all.subarray(take.length);
      this.rx = rest.length ? [rest] : []; this.rxLen = rest.length;
      if (this.rxLen < HIGH_WATER && this.sock.isPaused()) this.sock.resume();
      this.rt.stats.rx += take.length;
      return take.toString("latin1");
    }
    if (this.err) return this.err.code === "ECONNRESET" && this.rt.opts.resetError ? -9 : -1;
    return this.eof ? -1 : "";
  }
  pending() { return this.rxLen > 0; } // (eof/errors wake the loop when they happen)
  dead() { return this.sock.destroyed || !this.sock.writable; }
  canSend() { return !this.dead() && !this.sock.writableNeedDrain; }
  send(str) {
    this.sock.write(Buffer.from(str, "latin1"));
    this.rt.stats.tx += str.length;
  }
  close(graceful) {
    if (graceful && !this.dead()) this.sock.end(() => this.sock.destroy());
    else this.sock.destroy();
  }
}

export function createNet(rt) {
  const { realm, loop, opts, ev } = rt;
  const { api, obj, lib, mkErr } = realm;
  const servers = new Set(); // {obj, node, pending[], cb}
  const conns = new Set();   // {obj, link, snd, dRcv, close, closeNow, ended}
  const byObj = new WeakMap();
  const chunk = () => opts.chunkSize;
  const state = (self) => {
    const st = byObj.get(self);
    if (!st) throw mkErr("TypeError", "Not a Socket");
    return st;
  };

  function write(st, data) {
    if (st.close || st.closeNow) throw mkErr("Error", "This socket is closed");
    const s = asString(data);
    if (s !== null) {
      if (/[^\x00-\xff]/.test(s)) rt.warn("char > 255 written to a socket: low byte sent");
      st.snd += s;
    }
    loop.wake();
    return false;
  }

  const SocketProto = lib({
    write: api(function (data) { return write(state(this), data); }),
    end: api(function (data) {
      const st = state(this);
      if (data !== undefined) write(st, data);
      if (!st.snd) st.closeNow = true;
      st.close = true;
      loop.wake();
    }),
    available: api(function () { return (ev.streamBufs.get(this) || "").length; }),
    read: api(function (n) {
      const buf = ev.streamBufs.get(this);
      if (buf === undefined) return undefined;
      n = n === undefined ? buf.length : n;
      if (n >= buf.length) { ev.streamBufs.delete(this); return buf; }
      ev.streamBufs.set(this, buf.slice(n));
      return buf.slice(0, n);
    }),
    pipe: api(function (dest, options) { rt.pipe(this, dest, options); }),
  });

  const ServerProto = lib({
    listen: api(function (port) {
      const srv = byObj.get(this);
      if (!srv || srv.node) return this;
      const node = net.createServer({ allowHalfOpen: true });
      srv.node = node;
      node.on("connection", (s) => { srv.pending.push(s); loop.wake(); });
      node.on("error", () => loop.uncaught(mkErr("InternalError", "Unable to create socket")));
      const requested = Number(port) | 0;
      const actual = opts.port ? opts.port(requested) : requested;
      node.listen(actual, opts.host, () => opts.onListen && opts.onListen(requested, node.address().port));
      servers.add(srv);
      return this;
    }),
    close: api(function () {
      const srv = byObj.get(this);
      if (!srv || !servers.has(srv)) return;
      servers.delete(srv);
      srv.node.close();
      for (const s of srv.pending) s.destroy();
      srv.pending.length = 0;
    }),
  });

  function accept(srv) {
    const s = srv.pending.shift();
    const sock = Object.create(SocketProto);
    const st = { obj: sock, link: new Link(s, rt), snd: "", dRcv: "", close: false, closeNow: false, ended: false };
    byObj.set(sock, st);
    conns.add(st);
    loop.queue(srv.obj, srv.cb, [sock]);
  }

  function pushRecv(st) {
    if (st.dRcv && ev.pushData(st.obj, st.dRcv)) st.dRcv = "";
  }

  function kill(st, graceful) {
    conns.delete(st);
    st.close = true;
    st.link.close(graceful);
  }

  function idleConn(st) {
    pushRecv(st);
    // socket.clsNow = true (a child property Espruino's socketserver.c reads as "close now"):
    // closed at once, unsent data dropped [src, bin]
    const force = !!st.obj.clsNow;
    let closeNow = st.closeNow || force, error = 0, busy = false;
    if (!closeNow) {
      if (st.snd.length) {
        if (st.link.dead()) { closeNow = true; error = -1; }
        else if (st.link.canSend()) {
          const n = Math.min(chunk(), st.snd.length);
          st.link.send(st.snd.slice(0, n));
          st.snd = st.snd.slice(n);
          busy = true;
          if (!st.snd && !st.close) loop.queueObj(st.obj, "drain", [st.obj]);
        }
      } else if (st.close) closeNow = true;
      const r = st.link.recv(chunk());
      if (typeof r === "number") { closeNow = true; error = r; }
      else if (r) { st.dRcv += r; pushRecv(st); busy = true; }
    }
    if (closeNow) {
      pushRecv(st);
      if (!st.dRcv) {
        if (st.snd && error === -1) error = -8;
        kill(st, error === 0 && !force);
        const hadError = error < 0 && error !== -1;
        if (hadError) loop.queueObj(st.obj, "error", [obj({ code: error, message: SOCKET_ERRORS[error] || "unknown error" })]);
        if (!st.ended) { st.ended = true; loop.queueObj(st.obj, "end"); }
        loop.queueObj(st.obj, "close", [hadError]);
      }
    }
    return busy || st.link.pending() || st.closeNow || (st.close && !st.snd) ||
      (st.snd.length > 0 && st.link.canSend());
  }

  loop.idlers.push(() => {
    let busy = false;
    for (const srv of servers) if (srv.pending.length) { accept(srv); busy = true; }
    for (const st of [...conns]) busy = idleConn(st) || busy;
    return busy;
  });

  const module = lib({
    createServer: api(function (cb) {
      if (typeof cb !== "function") {
        rt.log("ERROR: Expecting Callback Function but got " + (cb === null ? "null" : typeof cb));
        return undefined;
      }
      const server = Object.create(ServerProto);
      byObj.set(server, { obj: server, cb, node: null, pending: [] });
      return server;
    }),
  });

  return {
    module,
    /** Roots for process.memory(): live sockets, servers and their queued strings. */
    roots: () => [...[...conns].flatMap((c) => [c.obj, c.snd, c.dRcv]), ...[...servers].flatMap((s) => [s.obj, s.cb])],
    stop: () => Promise.all([
      ...[...conns].map((st) => { kill(st, false); }),
      ...[...servers].map((srv) => new Promise((res) => {
        servers.delete(srv);
        for (const s of srv.pending) s.destroy();
        srv.node.close(() => res());
      })),
    ]),
  };
}
