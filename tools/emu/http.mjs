// A minimal require("http") server (baseline benchmarks), after socketServerConnectionsIdle
// in libs/network/socketserver.c: headers parsed once "\r\n\r\n" arrived (keys keep the
// client's case; first duplicate wins here, Espruino keeps both), the request callback is
// queued, body bytes go to req 'data' (Content-Length counted), req 'end' when the body is
// complete, the status line is always "HTTP/1.1 <code> OK" + "Server: Espruino 2v29", every
// response carries "Connection: close" unless overridden, and the socket closes after
// res.end() once everything is sent (no keep-alive). 'Transfer-Encoding: chunked' responses
// are framed. Not emulated: chunked request bodies, the header over-scan bug, http.get.
import net from "node:net";
import { asString } from "./bytes.mjs";
import { Link, SOCKET_ERRORS } from "./net.mjs";

export function createHttp(rt) {
  const { realm, loop, opts, ev } = rt;
  const { api, obj, lib, mkErr } = realm;
  const servers = new Set(), conns = new Set();
  const byObj = new WeakMap();

  const getI = (o, name) => { for (const k of Object.keys(o)) if (k.toLowerCase() === name.toLowerCase()) return o[k]; };

  function writeHead(c, code, headers) {
    if (headers !== undefined && (headers === null || typeof headers !== "object")) { rt.log("ERROR: Headers sent to writeHead should be an object"); return; }
    if (c.snd !== null) { rt.log("ERROR: Headers have already been sent"); return; }
    const all = Object.assign({}, c.resHeaders, headers || {});
    let s = `HTTP/1.1 ${code | 0} OK\r\nServer: Espruino 2v29\r\n`;
    for (const k of Object.keys(all)) s += `${k}: ${asString(all[k])}\r\n`;
    c.chunked = String(getI(all, "Transfer-Encoding")) === "chunked";
    c.snd = s + "\r\n";
    loop.wake();
  }
  function write(c, data) {
    if (c.close || c.closeNow) throw mkErr("Error", "This socket is closed");
    if (c.snd === null) writeHead(c, 200);
    const s = asString(data);
    if (s !== null) c.snd += c.chunked ? s.length.toString(16) + "\r\n" + s + "\r\n" : s;
    loop.wake();
    return false;
  }
  const conn = (self) => byObj.get(self) || (() => { throw mkErr("TypeError", "Not an HTTP response"); })();
  const ResProto = lib({
    writeHead: api(function (code, headers) { writeHead(conn(this), code, headers); }),
    setHeader: api(function (k, v) { conn(this).resHeaders[String(k)] = asString(v); }),
    write: api(function (d) { return write(conn(this), d); }),
    end: api(function (d) {
      const c = conn(this);
      if (d !== undefined) write(c, d);
      write(c, c.chunked ? "" : undefined); // make sure the head is queued; "0\r\n\r\n" when chunked
      c.close = true;
    }),
  });

  function parseHead(c) {
    const i = c.dRcv.indexOf("\r\n\r\n");
    if (i < 0) return;
    const lines = c.dRcv.slice(0, i).split("\r\n");
    const [method, url] = lines[0].split(" ");
    const headers = obj();
    for (const l of lines.slice(1)) {
      const k = l.indexOf(":");
      if (k > 0 && !(l.slice(0, k) in headers)) headers[l.slice(0, k)] = l.slice(k + 1).trim();
    }
    Object.assign(c.req, { method, url, headers });
    c.recvCount = parseInt(getI(headers, "Content-Length")) || 0;
    c.dRcv = c.dRcv.slice(i + 4);
    c.hadHeaders = true;
    loop.queue(c.srv.obj, c.srv.cb, [c.req, c.res]);
  }
  function pushBody(c) {
    if (c.dRcv && ev.pushData(c.req, c.dRcv)) { c.recvCount -= c.dRcv.length; c.dRcv = ""; }
  }

  function idleConn(c) {
    let closeNow = c.closeNow, error = 0, num = 0;
    if (!closeNow) {
      const r = c.link.recv(opts.chunkSize);
      if (typeof r === "number") { closeNow = true; error = num = r; }
      else if (r) { num = r.length; c.dRcv += r; if (!c.hadHeaders) parseHead(c); if (c.hadHeaders) pushBody(c); }
      if (c.snd) {
        if (c.link.dead()) { closeNow = true; error = -1; }
        else if (c.link.canSend()) {
          const n = Math.min(opts.chunkSize, c.snd.length);
          c.link.send(c.snd.slice(0, n)); c.snd = c.snd.slice(n);
          if (!c.snd && !c.close) loop.queueObj(c.res, "drain", [c.res]);
        }
      }
      if (!c.snd && num <= 0) {
        let really = c.close;
        if (c.recvCount > 0 || !c.hadHeaders) really = false;
        else if (!c.ended) { c.ended = true; loop.queueObj(c.req, "end"); }
        closeNow = really; // even if the peer went away: Espruino waits for res.end() [bin]
      } else if (num > 0) closeNow = false;
    }
    if (closeNow) {
      if (c.hadHeaders) pushBody(c);
      conns.delete(c);
      c.close = true;
      c.link.close(error === 0);
      const hadError = error < 0 && error !== -1;
      if (hadError) for (const o of [c.req, c.res]) loop.queueObj(o, "error", [obj({ code: error, message: SOCKET_ERRORS[error] })]);
      loop.queueObj(c.res, "end");
      loop.queueObj(c.req, "close", [hadError]);
      loop.queueObj(c.res, "close", [hadError]);
    }
    return c.link.pending() || (!!c.snd && c.link.canSend()) || closeNow;
  }

  loop.idlers.push(() => {
    let busy = false;
    for (const srv of servers) {
      if (!srv.pending.length) continue;
      busy = true;
      const req = obj(), res = Object.create(ResProto);
      const c = { srv, req, res, link: new Link(srv.pending.shift(), rt), dRcv: "", snd: null, hadHeaders: false,
        recvCount: 0, resHeaders: { Connection: "close" }, chunked: false, close: false, closeNow: false, ended: false };
      byObj.set(res, c);
      conns.add(c);
    }
    for (const c of [...conns]) busy = idleConn(c) || busy;
    return busy;
  });

  const ServerProto = lib({
    listen: api(function (port) {
      const srv = byObj.get(this);
      if (!srv || srv.node) return this;
      srv.node = net.createServer({ allowHalfOpen: true });
      srv.node.on("connection", (s) => { srv.pending.push(s); loop.wake(); });
      srv.node.on("error", () => loop.uncaught(mkErr("InternalError", "Unable to create socket")));
      const requested = Number(port) | 0 || 80;
      const actual = opts.port ? opts.port(requested) : requested;
      srv.node.listen(actual, opts.host, () => opts.onListen && opts.onListen(requested, srv.node.address().port));
      servers.add(srv);
      return this;
    }),
    close: api(function () {
      const srv = byObj.get(this);
      if (srv && servers.delete(srv)) srv.node.close();
    }),
  });

  return {
    module: lib({
      createServer: api((cb) => {
        const server = Object.create(ServerProto);
        byObj.set(server, { obj: server, cb, node: null, pending: [] });
        return server;
      }),
    }),
    roots: () => [...[...conns].flatMap((c) => [c.req, c.res, c.snd || "", c.dRcv])],
    stop: () => Promise.all([
      ...[...conns].map((c) => { conns.delete(c); c.link.close(false); }),
      ...[...servers].map((srv) => new Promise((res) => {
        servers.delete(srv);
        for (const s of srv.pending) s.destroy();
        srv.node.close(() => res());
      })),
    ]),
  };
}
