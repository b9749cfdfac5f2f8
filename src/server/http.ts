// Connections and HTTP/1.1: one shared set of handlers for every socket (no closures per
// connection), per-connection state as a few `_` properties on the socket itself, one
// sweep timer for every timeout.
import { HttpReader, Req } from "../core/http";
import { find } from "../core/str";
import { store, file, listen as bind } from "sprat:runtime";
import * as P from "sprat:profile";

// Per-socket state. Every property costs a JsVar for as long as the connection lives (even
// one set to 0), so a property exists only while it means something:
// _r reader (HttpReader, or WsReader once upgraded; 0 once closing)
// _d the sweep's countdown, in sweeps: < 0 a request head is being read (a 408 at 0), > 0
//    inactivity (a close at 0); small integers, which Espruino stores in the property itself
//    (a Date.now() deadline is a float: a second JsVar). On an upgraded socket: ws.ts's
//    deadline in ms.
// _k the request being answered: 1 keep the connection, 2 HTTP/1.0 (say "keep-alive"), 4 HEAD
// _f/_e/_t a static response streaming: position and end in the web ZIP (src), its tail
// _b request body so far, _y the route taking it     _u upgraded: the WebSocket endpoint
// _w bytes written since the last 'drain' (out(): WebSocket sends)   _j closing on a timeout
// _z called with the socket when it closes (ota.ts: an upload cut off)

export var conns: any[] = [];
// every reader shares the limits through the prototype: no JsVar for them per connection
(HttpReader as any).prototype._l = { line: P.maxLine, head: P.maxHead, hdrs: P.maxHeaders };
// The sweep runs every SWEEP ms. A countdown of n sweeps set at any moment ends after more
// than (n - 1) and at most n sweeps: n = ceil(ms / SWEEP) + 1 is never early and at most
// 2 sweeps (500 ms) late.
var SWEEP = 250;
function sweeps(ms: number) { return Math.ceil(ms / SWEEP) + 1 | 0; } // (| 0: an int, Math.ceil's is a float)
var HEAD = sweeps(P.headTimeout), IDLE = sweeps(P.idleTimeout), GRACE = sweeps(1000);

// Routes are tried in order for every request: fn(socket, req) returns true if it answered.
// A route that takes the body sets s._y = fn(socket, data, end), which receives it as it arrives.
export var routes: ((s: any, q: Req) => any)[] = [];
// Routes for one exact path (WebSocket endpoints, the web-app upload), found with one look-up
// before the list: a request does not pay for the paths it does not ask for (a route called
// to decline costs ~20 us on Espruino). One that returns false passes the request on.
export var paths: { [path: string]: (s: any, q: Req) => any } = {};

export var now = function () { return Date.now(); };

var REASONS = "200OK|101Switching Protocols|204No Content|304Not Modified|400Bad Request|401Unauthorized|403Forbidden|404Not Found|405Method Not Allowed|406Not Acceptable|408Request Timeout|409Conflict|411Length Required|413Content Too Large|414URI Too Long|422Unprocessable Content|426Upgrade Required|429Too Many Requests|431Request Header Fields Too Large|500Internal Server Error|501Not Implemented|503Service Unavailable|505HTTP Version Not Supported|507Insufficient Storage";

function reason(code: number) {
  var i = find(REASONS, code + ""), j = REASONS.indexOf("|", i);
  return i < 0 ? "" : REASONS.substring(i + 3, j < 0 ? REASONS.length : j);
}

/** The end of a head for a body of len bytes (-1: none): the Connection field if any, the empty line. */
export function tail(s: any, len: number): string {
  // A body over keepAliveMax bytes needs several TCP segments; with Nagle on (Espruino has no
  // setNoDelay) the client's delayed ACK stalls it on a reused connection, not on a new one.
  if (P.keepAliveMax && len > P.keepAliveMax && !(s._k & 4)) s._k &= 6;
  // HTTP/1.0 clients keep the connection only when told so
  return !(s._k & 1) ? "Connection: close\r\n\r\n" : s._k & 2 ? "Connection: keep-alive\r\n\r\n" : "\r\n";
}

/** A status line, headers (each "Name: value\r\n") and Content-Length for a body of len bytes (-1: none): a head without its tail(). */
export function top(code: number, hdrs: string, len: number): string {
  return (code == 200 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 " + code + " " + reason(code) + "\r\n") + hdrs +
    (len >= 0 && code != 204 ? "Content-Length: " + len + "\r\n" : "");
}

/** A whole head for socket s, to be written with the body's start. */
export function head(s: any, code: number, hdrs: string, len: number): string {
  return top(code, hdrs, len) + tail(s, len);
}

/** A write counted for the WebSocket send queue (HTTP responses write directly). */
export function out(s: any, d: string) {
  s._w = s._w + d.length || d.length; // (undefined until the first count)
  s.write(d);
}

/** A complete response. The body is a binary string; HEAD requests get no body. */
export function reply(s: any, code: number, type: string, body: string, hdrs?: string): any {
  s.write(head(s, code, (type ? "Content-Type: " + type + "\r\n" : "") + (hdrs || ""), body.length) + (s._k & 4 ? "" : body));
  return done(s);
}

/** A plain-text error; closing the connection unless the request was fully read. */
export function fail(s: any, code: number, msg?: string, hdrs?: string): any {
  if (code >= 400 && code != 404 && code != 406 && code != 405) s._k &= 6;
  return reply(s, code, "text/plain; charset=utf-8", code + " " + reason(code) + (msg ? ": " + msg : "") + "\n", hdrs);
}

/** The response is complete: read the next request, or close. Returns true (routes answered). */
export function done(s: any): any {
  var e: number;
  if (s._y) {
    delete s._y;
    delete s._b;
  }
  if (!(s._k & 1)) {
    s._r = 0; // nothing more is read from a connection being closed
    return s.end() || 1;
  }
  cur = s;
  s._d = IDLE;
  if (e = s._r.next(H)) fail(s, e);
  return 1;
}

/** A request is making progress (a piece of its body arrived): its inactivity limit starts again. */
export function alive(s: any) {
  s._d = IDLE;
}

var H = {
  q: function (q: Req) {
    // (q.p starts with "/", or is "*": never an inherited name)
    var s = cur, i = 0, f = paths[q.p];
    s._d = IDLE; // the head is in: from here on, inactivity is the limit
    s._k = (q.k ? 1 : 0) + (q.v ? 0 : 2) + (q.m == "HEAD" ? 4 : 0);
    if (f && f(s, q)) return;
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
  // a request starts: the whole head must arrive in time
  if (!(s._d < 0) && !s._e && !s._y) s._d = -HEAD;
  if (e = s._r.push(d, H)) {
    s._k = 0;
    fail(s, e);
  }
}

function onDrain(this: any) {
  var s = this;
  if (s._u) {
    s._w = 0;
    return s._u.drain(s);
  }
  if (s._e) {
    s._d = IDLE; // a slow download is progress, not idleness
    pump(s);
  }
}

function onClose(this: any) {
  var s = this, i = conns.indexOf(s);
  if (cur == s) cur = 0;
  if (i >= 0) conns.splice(i, 1);
  if (s._u) s._u.close(s);
  if (s._z) s._z(s);
  s._e = s._r = s._u = 0;
}

/** A new connection (exported for the bench's hot-path timings, which feed it a fake socket). */
export function accept(s: any) {
  // A client that closed before this callback ran never gets 'close' delivered (Espruino
  // queues the callback after accept), but writing to its socket throws: leave it alone.
  try { s.write(""); } catch (e) { return; }
  on(s, "close", onClose);
  if (conns.length >= P.maxClients) {
    // refused before reading: the board's sockets and RAM are the scarce resource
    s._k = 0;
    s.end(head(s, 503, "Retry-After: 2\r\n", 0));
    return;
  }
  conns.push(s);
  s._r = new (HttpReader as any)();
  s._d = -HEAD;
  on(s, "data", onData);
  on(s, "drain", onDrain);
}

// Espruino keeps an event's listeners as an array in the property "#on" + event: 3 JsVars a
// listener. A lone function there is called just the same (jsiExecuteEventCallback takes
// either), for 1. For 'data', on() runs first: it delivers data that came before the
// listener. Only this file listens to a socket's events (others hear of 'close' through _z).
function on(s: any, e: string, f: any) {
  if (P.runtime != "espruino" || e == "data") s.on(e, f);
  if (P.runtime == "espruino") s["#on" + e] = f;
}

// The web ZIP the responses in flight are streamed from. bump() ends those of an older one,
// so one reference serves them all (a property per socket would cost a JsVar each).
var src: any;

/** Streams bytes [f, e) of z after the head h, then the tail t, one chunk per 'drain'. */
export function stream(s: any, z: any, f: number, e: number, t: string, h: string) {
  src = z;
  s._f = f;
  s._e = e;
  if (t) s._t = t;
  pump(s, h);
}

function pump(s: any, h?: string) {
  var f = s._f, n = s._e - f, d: string;
  if (n > 0) {
    if (n > P.chunk) n = P.chunk;
    // Espruino turns every string of a Storage file it erases into null (Kaluma's view of a
    // deleted file reads null): the ZIP was rewritten or erased under this stream, whose bytes
    // are gone. Cut it (web() sees the change at the next request).
    if (!src || (d = src.substr(f, n)) == null) {
      s._e = 0;
      return s.end();
    }
    s._f = f + n;
    // (Storage strings are zero-copy: "" + d would copy the chunk for nothing)
    s.write(h ? h + d : d);
  } else {
    if (s._t) s.write(s._t);
    delete s._f;
    delete s._e;
    delete s._t;
    done(s);
  }
}

/** The web app ZIP changed: responses still streaming an older one stop, never mixing old and new bytes. */
export function bump() {
  for (var i = 0, s: any; i < conns.length; i++) {
    if ((s = conns[i])._e) {
      s._e = 0;
      try { s.end(); } catch (x) { /* closed: its 'close' is still to come */ }
    }
  }
}

/** Sweeps so far: what changes more slowly is checked once a sweep (static.ts's web()). */
export var tick = 0;

// Every timeout in one place: cheaper than a timer per connection on a board.
function sweep() {
  var t = now(), i = conns.length, s: any, d: number;
  tick++;
  while (i--) {
    s = conns[i];
    try {
      if (s._u) s._u.tick(s, t);
      else if ((d = s._d) && !(s._d = d < 0 ? d + 1 : d - 1)) {
        if (d < 0) {
          // a stalled head gets a 408 it may never read
          s._k = 0;
          fail(s, 408);
        } else {
          // inactivity: an idle keep-alive just closes; a client that stopped reading keeps
          // end() waiting for the send queue forever: one countdown later Espruino's "close
          // now" flag drops the socket, queue and all
          if (s._j) s.clsNow = 1;
          s._j = 1;
          s.end();
        }
        s._d = GRACE; // if nothing is read any more, the second branch drops the socket
      }
    } catch (e) {
      onClose.call(s); // "This socket is closed": its 'close' never reached us
    }
  }
}

export function start(port?: number) {
  bind(port || (typeof SPRAT_PORT == "number" ? SPRAT_PORT : P.port), accept);
  setInterval(sweep, SWEEP);
}

export { store, file };
