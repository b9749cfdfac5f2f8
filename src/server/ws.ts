// WebSocket endpoints over the HTTP server's connections (RFC 6455).
import { Req, tok } from "../core/http";
import { find } from "../core/str";
import { WsReader, validKey, header, closeFrame, GUID } from "../core/ws";
import { sha1 } from "../core/sha1";
import { paths, fail, out, now, conns } from "./http";
import * as P from "sprat:profile";

/**
 * An endpoint's handlers, all optional but msg. stream: deliver messages piece by piece as
 * they arrive (any size, O(chunk) RAM) instead of whole messages up to maxMessage.
 */
export interface Endpoint {
  msg(s: any, op: number, data: string, fin: boolean): void;
  open?(s: any): void;
  close?(s: any): void;
  drain?(s: any): void;
  stream?: boolean;
  proto?: string;
}

var eps: { [path: string]: Endpoint } = {};
export function endpoint(path: string, ep: Endpoint) {
  // the endpoint is the reader's handler (WsHandler): its msg is called straight from the
  // reader, control frames go to ctl
  (ep as any).c = ctl;
  eps[path] = ep;
  paths[path] = upgrade;
}

// Extra origins (besides the page's own) allowed to open sockets and call the REST API.
export var origins = P.origins ? P.origins.split(",") : [];

// Host names besides IP addresses and local ones (hostOk) the API answers to; "*": any.
var hosts = "," + P.hosts + ",";

/**
 * DNS rebinding: a page on evil.example whose name the attacker re-points at the device is
 * "same origin" to the browser, but its requests carry Host: evil.example. Allowed: no Host
 * (HTTP/1.0), IP literals, single-label names and the non-public suffixes below (.local for
 * mDNS), and the profile's hosts (docs/security.md).
 */
export function hostOk(h?: string): boolean {
  // (a port, then a trailing dot, go; t: the top-level label, an IPv4 address's is a number)
  var n = (h || "").toLowerCase().replace(/:[0-9]*$/, "").replace(/\.$/, ""), t = n.substr(n.lastIndexOf(".") + 1);
  return !h || n.charAt(0) == "[" || P.hosts == "*" || t == n || t != "" && +t == +t ||
    // (no hosts listed: no look-up; an empty n, the only one ",," would match, returned above)
    P.hosts != "" && find(hosts, "," + n + ",") >= 0 ||
    find(",local,lan,home,internal,localdomain,localhost,", "," + t + ",") >= 0 || n.substr(-10) == ".home.arpa";
}

/** Same origin (Origin's host = Host), an allowed origin, or no Origin (not a browser); and hostOk. */
export function originOk(q: Req): boolean {
  var o = q.h.origin, i = o ? find(o, "://") : -1;
  return hostOk(q.h.host) && (!o || i > 0 && o.substr(i + 3) == q.h.host || origins.indexOf(o) >= 0);
}

/** The 403 for a request originOk refused. */
export function deny(s: any, q: Req): any {
  return fail(s, 403, (hostOk(q.h.host) ? "origin" : "host") + " not allowed");
}

// Per-socket state once upgraded (besides http.ts's): _p the endpoint, _c close sent,
// _i ping outstanding, _q data arrived since the last tick, _x when the send queue went over wsQueue (0: it is not), _o/_n a
// streamed send in progress (source, opcode of its next frame), _s topics (rpc.ts).

/** Sends one whole message (op 1 text, 2 binary); dropped once a close was sent. */
export function send(s: any, data: string, op?: number) {
  if (s._c || !s._u) return;
  var h = header(op || 1, data.length, true);
  // one write for small frames; big payloads are not copied just to prepend a header
  if (data.length < 256) out(s, h + data);
  else { out(s, h); out(s, data); }
}

// The next fragment of a stream.
function more(s: any) {
  var d = s._o(P.chunk) || "", fin = d.length < P.chunk;
  out(s, header(s._n, d.length, fin) + d);
  s._n = 0;
  if (fin) { delete s._o; delete s._n; }
}

/** Sends a long message in fragments of `chunk` bytes, each after the previous drained. */
export function stream(s: any, src: (n: number) => string, op?: number) {
  s._o = src;
  s._n = op || 2;
  more(s);
}

/** Starts the closing handshake; TCP is closed when the peer answers or after closeTimeout. */
export function close(s: any, code?: number, reason?: string) {
  if (s._c || !s._u) return;
  out(s, closeFrame(code, reason));
  s._c = 1;
  s._d = now() + P.closeTimeout;
}

// Ends the connection: the close frame (unless one was sent: code 0, an empty one), then TCP.
function bye(s: any, code: number) {
  close(s, code);
  s.end();
}

// Control frames from the reader (every endpoint's c).
function ctl(s: any, op: number, p: string) {
  if (op == 9) {
    if (!s._c) out(s, header(10, p.length, true) + p); // pong
  } else if (op == 8) bye(s, p.length > 1 ? p.charCodeAt(0) << 8 | p.charCodeAt(1) : 0); // the peer's code (validated by the reader)
}

// What http.ts calls for an upgraded socket.
var U = {
  data: function (s: any, d: string) {
    s._q = 1; // any traffic proves the peer alive (the next tick acts on it: no clock read per message)
    var e = s._r.push(d, s._p, s);
    // a protocol violation: fail the connection with the reader's close code
    if (e) bye(s, e);
  },
  drain: function (s: any) {
    delete s._x;
    if (s._o) more(s);
    else if (s._p.drain) s._p.drain(s);
  },
  close: function (s: any) {
    if (s._p.close) s._p.close(s);
  },
  tick: function (s: any, t: number) {
    if (s._q) {
      delete s._q; delete s._i;
      if (!s._c) s._d = t + P.pingInterval;
    }
    if (s._x && t - s._x > P.pongTimeout) {
      // the client stopped reading: drop what it cannot take instead of filling RAM
      delete s._x;
      close(s, 1008, "too slow");
    } else if (t > s._d) {
      if (s._c || s._i) {
        // no close reply, or no pong: the peer is gone, or it stopped reading, which keeps
        // end() waiting for the send queue forever (a socket slot and RAM held): one sweep
        // later, Espruino's own "close now" flag (socketserver.c) drops it, queue and all
        if (s._j) s.clsNow = 1;
        s._j = 1;
        s.end();
      } else {
        out(s, "\x89\0"); // ping
        s._i = 1;
        s._d = t + P.pongTimeout;
      }
    }
  }
};

/** Number of upgraded connections (WebSocket clients). */
export function clients(): number {
  for (var i = 0, n = 0; i < conns.length; i++) if (conns[i]._u) n++;
  return n;
}

// A request for an endpoint's path (http.ts's paths): the handshake.
function upgrade(s: any, q: Req) {
  var ep = eps[q.p], k = q.h["sec-websocket-key"], o: string, pr: any, rest: string;
  o = q.h["sec-websocket-protocol"];
  pr = ep.proto;
  // (426 names the version we speak, whether the client sent another one or no Upgrade at all)
  if (!tok(q.h.upgrade, "websocket") || q.h["sec-websocket-version"] != "13") return fail(s, 426, "this is a WebSocket endpoint", "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
  if (q.m != "GET" || !q.v || !tok(q.h.connection, "upgrade") || q.n || !validKey(k)) return fail(s, 400, "bad WebSocket handshake");
  if (!originOk(q)) return deny(s, q);
  // pick our protocol only if the client offered it; never echo the client's list
  if (!(pr && o && tok(o, pr))) pr = "";
  // (both runtimes have btoa; the profile says whether the firmware has SHA-1: core/ws.ts's
  // acceptKey, which detects both, is for other engines)
  out(s, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
    btoa(P.nativeSha1 ? require("crypto").SHA1(k + GUID) : sha1(k + GUID)) + "\r\n" + (pr ? "Sec-WebSocket-Protocol: " + pr + "\r\n" : "") + "\r\n");
  rest = s._r.rest();
  // every property costs a JsVar for as long as the client stays: HTTP's state goes, and
  // the WebSocket flags below exist only while set
  delete s._a; delete s._k; delete s._l; delete s._m; delete s._z; delete s._b; delete s._y;
  delete s._f; delete s._e; delete s._t; delete s._g;
  s._u = U;
  s._p = ep;
  s._d = now() + P.pingInterval;
  s._r = new (WsReader as any)(ep.stream ? 0 : P.maxMessage);
  if (ep.open) ep.open(s);
  if (rest) U.data(s, rest);
  return 1;
}

if (P.echo) {
  // conformance endpoint: echoes every message with its type, streamed piece by piece
  endpoint("/echo", {
    stream: true,
    msg: function (s: any, op: number, d: string, fin: boolean) {
      if (!d && !fin) return;
      out(s, header(s._v ? 0 : op, d.length, fin) + d);
      if (fin) delete s._v; else s._v = 1;
    }
  });
}
