// Connections and HTTP/1.1: one shared set of handlers for every socket (no closures per
// connection), per-connection state as a few `_` properties on the socket itself, one
// sweep timer for every timeout.
import { HttpReader, Req } from "../core/http";
import { find } from "../core/str";
import { store, file, listen as bind } from "sprat:runtime";
import * as P from "sprat:profile";

// Per-socket state:
// _r reader (HttpReader, or WsReader once upgraded)   _k keep-alive after this response
// _d deadline (ms) the sweep acts on, 0 none          _a what the deadline means (T_*)
// _w bytes written since the last 'drain'             _u upgraded: the WebSocket endpoint
// _z/_f/_e/_t/_g a static response in flight: ZIP string, position, end, tail, generation
// _b request body so far, _y the route taking it, _m the request's method, _l HTTP/1.0

export var conns: any[] = [];
var LIM = { line: P.maxLine, head: P.maxHead, hdrs: P.maxHeaders };
var T_HEAD = 1, T_IDLE = 2;

// Routes are tried in order for every request: fn(socket, req) returns true if it answered.
// A route that takes the body sets s._y = fn(socket, data, end), which receives it as it arrives.
export var routes: ((s: any, q: Req) => any)[] = [];

export var now = function () { return Date.now(); };

var REASONS = "200OK|101Switching Protocols|204No Content|304Not Modified|400Bad Request|401Unauthorized|403Forbidden|404Not Found|405Method Not Allowed|406Not Acceptable|408Request Timeout|409Conflict|411Length Required|413Content Too Large|414URI Too Long|422Unprocessable Content|426Upgrade Required|429Too Many Requests|431Request Header Fields Too Large|500Internal Server Error|501Not Implemented|503Service Unavailable|505HTTP Version Not Supported|507Insufficient Storage";

function reason(code: number) {
  var i = find(REASONS, code + ""), j = REASONS.indexOf("|", i);
  return i < 0 ? "" : REASONS.substring(i + 3, j < 0 ? REASONS.length : j);
}

/** A status line and headers (each "Name: value\r\n"), to be written with the body's start. */
export function head(s: any, code: number, hdrs: string, len: number): string {
  // A body over keepAliveMax bytes needs several TCP segments; with Nagle on (Espruino has no
  // setNoDelay) the client's delayed ACK stalls it on a reused connection, not on a new one.
  if (P.keepAliveMax && len > P.keepAliveMax && s._m != "HEAD") s._k = false;
  // HTTP/1.0 clients keep the connection only when told so
  return "HTTP/1.1 " + code + " " + reason(code) + "\r\n" + hdrs + (len >= 0 && code != 204 ? "Content-Length: " + len + "\r\n" : "") +
    (!s._k ? "Connection: close\r\n\r\n" : s._l ? "Connection: keep-alive\r\n\r\n" : "\r\n");
}

export function out(s: any, d: string) {
  s._w += d.length;
  s.write(d);
}

/** A complete response. The body is a binary string; HEAD requests get no body. */
export function reply(s: any, code: number, type: string, body: string, hdrs?: string): any {
  out(s, head(s, code, (type ? "Content-Type: " + type + "\r\n" : "") + (hdrs || ""), body.length) + (s._m != "HEAD" ? body : ""));
  return done(s);
}

/** A plain-text error; closing the connection unless the request was fully read. */
export function fail(s: any, code: number, msg?: string, hdrs?: string): any {
  if (code >= 400 && code != 404 && code != 406 && code != 405) s._k = false;
  return reply(s, code, "text/plain; charset=utf-8", code + " " + reason(code) + (msg ? ": " + msg : "") + "\n", hdrs);
}

/** The response is complete: read the next request, or close. Returns true (routes answered). */
export function done(s: any): any {
  s._z = s._b = s._y = 0;
  if (!s._k) {
    s._r = 0; // nothing more is read from a connection being closed
    return s.end() || 1;
  }
  cur = s;
  s._d = now() + P.idleTimeout;
  s._a = T_IDLE;
  var e = s._r.next(H);
  if (e) fail(s, e);
  return 1;
}

var H = {
  q: function (q: Req) {
    var s = cur, i = 0;
    s._d = now() + P.idleTimeout; // the head is in: from here on, inactivity is the limit
    s._a = T_IDLE;
    s._k = q.k;
    s._l = !q.v;
    s._m = q.m;
    while (i < routes.length) if (routes[i++](s, q)) return;
    fail(s, 404);
  },
  b: function (d: string, end: boolean) {
    var s = cur;
    if (s._y) s._y(s, d, end);
  }
};

// The socket whose data is being parsed: handlers above act on it.
var cur: any;

function onData(this: any, d: string) {
  var s = cur = this, e: number;
  if (s._u) return s._u.data(s, d);
  if (!s._r) return;
  if (!s._a || s._a == T_IDLE && !s._z && !s._y) {
    s._d = now() + P.headTimeout; // a request starts: the whole head must arrive in time
    s._a = T_HEAD;
  }
  e = s._r.push(d, H);
  if (e) {
    s._m = 0;
    fail(s, e);
  }
}

function onDrain(this: any) {
  var s = this;
  s._w = 0;
  if (s._u) return s._u.drain(s);
  if (s._z) {
    s._d = now() + P.idleTimeout; // a slow download is progress, not idleness
    pump(s);
  }
}

function onClose(this: any) {
  var s = this, i = conns.indexOf(s);
  if (cur == s) cur = 0;
  if (i >= 0) conns.splice(i, 1);
  if (s._u) s._u.close(s);
  s._z = s._r = s._u = 0;
}

/** A new connection (exported for the bench's hot-path timings, which feed it a fake socket). */
export function accept(s: any) {
  // A client that closed before this callback ran never gets 'close' delivered (Espruino
  // queues the callback after accept), but writing to its socket throws: leave it alone.
  try { s.write(""); } catch (e) { return; }
  s._w = 0;
  s.on("close", onClose);
  if (conns.length >= P.maxClients) {
    // refused before reading: the board's sockets and RAM are the scarce resource
    s._k = false;
    s.end(head(s, 503, "Retry-After: 2\r\n", 0));
    return;
  }
  conns.push(s);
  s._r = new (HttpReader as any)(LIM);
  s._d = now() + P.headTimeout;
  s._a = T_HEAD;
  s.on("data", onData);
  s.on("drain", onDrain);
}

/** Streams bytes [f, e) of the string s._z, then s._t, one chunk per 'drain'; the first one after h. */
export function pump(s: any, h?: string) {
  if (s._g != gen) return s.end(); // the web app was replaced mid-response: fail cleanly
  var n = s._e - s._f;
  if (n > 0) {
    if (n > P.chunk) n = P.chunk;
    out(s, (h || "") + s._z.substr(s._f, n));
    s._f += n;
  } else {
    if (s._t) out(s, s._t);
    done(s);
  }
}

// Bumped whenever the web app ZIP changes; responses in flight from an older one stop.
export var gen = 0;
export function bump() { gen++; }

// Every timeout in one place: cheaper than a timer per connection on a board.
export var sweepers: ((s: any, t: number) => any)[] = [];
function sweep() {
  var t = now(), i = conns.length, s: any;
  while (i--) {
    s = conns[i];
    try {
      if (s._u) s._u.tick(s, t);
      else if (s._d && t > s._d) {
        s._d = 0;
        // a stalled head gets a 408 it may never read; an idle keep-alive just closes
        if (s._a == T_HEAD && !s._z) {
          s._k = false;
          fail(s, 408);
          s._a = T_IDLE; // if the 408 is never read either, the branch below drops the socket
          s._d = now() + 1000;
        }
        else {
          // a client that stopped reading keeps end() waiting for the send queue forever:
          // one sweep later Espruino's "close now" flag drops the socket, queue and all
          if (s._j) s.clsNow = 1;
          s._j = 1;
          s.end();
          s._d = now() + 1000;
        }
      }
    } catch (e) {
      onClose.call(s); // "This socket is closed": its 'close' never reached us
    }
  }
}

export function start(port?: number) {
  bind(port || (typeof SPRAT_PORT == "number" ? SPRAT_PORT : P.port), accept);
  setInterval(sweep, 500);
}

export { store, file };
