// Messaging for device apps: JSON request/response methods and publish/subscribe topics over
// the /ws endpoint (docs/protocol.md), mirrored over REST as /api/<method>.
import { Req } from "../core/http";
import { find } from "../core/str";
import { utf8Escapes } from "../core/json";
import { routes, reply, fail, conns, now } from "./http";
import { endpoint, send, originOk, close, deny } from "./ws";
import * as P from "sprat:profile";

export type Method = (params: any, client: any) => any;
var methods: { [name: string]: Method } = {}, reads = ",";

/**
 * Registers a method; its handler returns the result (or a Promise), or throws rpcError().
 * read: it changes nothing, so REST may call it with GET (a GET can be forged by any page).
 */
export function method(name: string, fn: Method, read?: boolean) {
  methods[name] = fn;
  if (read) reads += name + ",";
}

/** An error for a method handler to throw: -32602 invalid params (data: field → message), … */
export function rpcError(code: number, message: string, data?: any) {
  return { code: code, message: message, data: data };
}

// Unicode builds (Linux, Bangle.js) decode UTF-8 in JSON.parse and escape code points in
// JSON.stringify, which is already right for the wire; E.fromUTF8 returns false elsewhere.
var UNI = typeof E != "undefined" && E.fromUTF8 && E.fromUTF8("") !== false;

/** JSON text from a client; strings come out as UTF-8 bytes on every build. */
function wire(t: string): any { return JSON.parse(UNI ? t : utf8Escapes(t)); }

/**
 * JSON text as UTF-8 bytes. On board builds device strings are UTF-8 byte strings and
 * JSON.stringify escapes bytes >= 0x80 as \u00XX, which a browser would read as Latin-1:
 * put the bytes back.
 */
export function json(v: any): string {
  var s = JSON.stringify(v), o = "", i = 0, j: number, k: number, c: number;
  if (s === undefined) return "null";
  if (UNI) return s;
  // (a JSON text never ends inside an escape, so plain indexOf is safe here)
  while ((j = s.indexOf("\\u00", i)) >= 0) {
    for (k = j; k > 0 && s.charAt(k - 1) == "\\"; k--);
    c = parseInt(s.substr(j + 4, 2), 16);
    if ((j - k) % 2 || !(c >= 128)) { o += s.substring(i, j + 4); i = j + 4; continue; }
    o += s.substring(i, j) + String.fromCharCode(c);
    i = j + 6;
  }
  return i ? o + s.substr(i) : s;
}

var gate: any = 0;
/**
 * Access control (auth.ts): fn(method, read, client, req) returns an rpcError to refuse the
 * call, or 0. read: registered read-only, or a built-in (subscribe); client: the WebSocket
 * (0 over REST); req: the REST request (undefined over WebSocket).
 */
export function guard(fn: (name: string, read: boolean, c: any, q?: Req) => any) { gate = fn; }

// Runs a request object; calls back with the reply object (or nothing for notifications).
function run(r: any, c: any, cb: (res: any) => void, q?: Req) {
  var id = r && r.id, fn: any, v: any, name = r && r.method;
  var end = function (e: any, v?: any) {
    if (id === undefined) return;
    if (e) cb({ id: id, error: typeof e == "object" && typeof e.code == "number" ? e : rpcError(-32603, "" + e) });
    else cb({ id: id, result: v === undefined ? null : v });
  };
  if (!r || typeof r != "object" || typeof name != "string") { id = id === undefined ? null : id; return end(rpcError(-32600, "invalid request")); }
  fn = methods.hasOwnProperty(name) ? methods[name] : builtin.hasOwnProperty(name) ? builtin[name] : 0;
  if (!fn) return end(rpcError(-32601, "unknown method " + name));
  if (gate && (v = gate(name, !methods.hasOwnProperty(name) || find(reads, "," + name + ",") >= 0, c, q))) return end(v);
  try {
    v = fn(r.params, c);
  } catch (e) {
    return end(e);
  }
  if (v && typeof v.then == "function") v.then(function (x: any) { end(0, x); }, end);
  else end(0, v);
}

function topics(p: any): string[] | null {
  var t = p && p.topics, i = 0;
  if (!Array.isArray(t)) return null;
  for (; i < t.length; i++) if (typeof t[i] != "string" || t[i].indexOf(",") >= 0) return null;
  return t;
}

// Subscriptions live in one string per client, ",a,b,": a few JsVars, not an object.
var builtin: { [name: string]: Method } = {
  subscribe: function (p: any, c: any) {
    var t = topics(p), i = 0;
    if (!t || !c) throw rpcError(-32602, "invalid params", { topics: "a list of topic names" });
    if (!c._s) c._s = ",";
    for (; i < t.length; i++) if (find(c._s, "," + t[i] + ",") < 0) c._s += t[i] + ",";
    return t;
  },
  unsubscribe: function (p: any, c: any) {
    var t = topics(p), i = 0;
    if (!t || !c) throw rpcError(-32602, "invalid params", { topics: "a list of topic names" });
    for (; i < t.length; i++) c._s = (c._s || ",").split("," + t[i] + ",").join(",");
    return t;
  }
};

/**
 * Pushes data to every client subscribed to topic. The frame is built once. A client whose
 * queue is over wsQueue misses this push (telemetry goes stale, not into RAM); http.ts's sweep
 * closes it with 1008 if it stays over for pongTimeout.
 */
export function publish(topic: string, data: any) {
  var i = 0, s: any, m = "";
  for (; i < conns.length; i++) {
    s = conns[i];
    if (s._u && s._s && find(s._s, "," + topic + ",") >= 0) {
      if (s._w > P.wsQueue) { if (!s._x) s._x = now(); continue; }
      send(s, m || (m = json({ method: topic, params: data })));
    }
  }
}

var hooks: any = {};
/** Called as open(client) when a /ws client connects and close(client) when it leaves. */
export function onClient(open?: (c: any) => void, close?: (c: any) => void) {
  hooks.o = open;
  hooks.c = close;
}

endpoint("/ws", {
  proto: "sprat.v1",
  open: function (s: any) { if (hooks.o) hooks.o(s); },
  close: function (s: any) { if (hooks.c) hooks.c(s); },
  msg: function (s: any, op: number, d: string) {
    var r: any;
    if (op != 1) return close(s, 1003, "JSON text only");
    // replies pile up if a client sends requests without reading the answers
    if (s._w > 4 * P.wsQueue) return close(s, 1008, "too many requests");
    try { r = wire(d); } catch (e) { return send(s, json({ id: null, error: rpcError(-32700, "invalid JSON") })); }
    run(r, s, function (res: any) { send(s, json(res)); });
  }
});

// REST mirror: GET /api/<method> (no params) or POST with JSON params.
var JSON_T = "application/json";
var STATUS: { [code: string]: number } = { "-32700": 400, "-32600": 400, "-32602": 400, "-32601": 404, "-32001": 401, "-32003": 429, "-32004": 507 };

function cors(q: Req): string {
  var o = q.h.origin;
  return o && originOk(q) ? "Access-Control-Allow-Origin: " + o + "\r\nVary: Origin\r\n" : "";
}

function call(s: any, q: Req, params: any): any {
  run({ id: 0, method: q.p.substr(5), params: params }, 0, function (res: any) {
    if (!s._r) return; // the client left meanwhile
    var e = res.error, c = e ? STATUS[e.code] || 500 : 200;
    reply(s, c, JSON_T, json(e ? { error: e } : res.result), cors(q) + (c == 401 ? "WWW-Authenticate: Bearer\r\n" : ""));
  }, q);
  return 1;
}

function err(s: any, q: Req, status: number, code: number, msg: string, hdrs?: string) {
  return reply(s, status, JSON_T, json({ error: rpcError(code, msg) }), cors(q) + (hdrs || ""));
}

routes.push(function (s: any, q: Req) {
  if (q.p.substr(0, 5) != "/api/") return false;
  // a page on another site must not drive the device through the user's browser
  if (!originOk(q)) return deny(s, q);
  if (q.m == "OPTIONS") return reply(s, 204, "", "", cors(q) + "Access-Control-Allow-Methods: GET, POST, PUT\r\nAccess-Control-Allow-Headers: Content-Type, Authorization, X-Sprat-Size, X-Sprat-CRC32\r\n");
  if (q.m == "GET" || q.m == "HEAD") {
    if (methods.hasOwnProperty(q.p.substr(5)) && find(reads, "," + q.p.substr(5) + ",") < 0) return err(s, q, 405, -32600, "this method changes state: use POST", "Allow: POST\r\n");
    return call(s, q, undefined);
  }
  if (q.m != "POST") return err(s, q, 405, -32600, "use GET or POST", "Allow: GET, POST\r\n");
  if (q.n > P.maxBody) return fail(s, 413, "at most " + P.maxBody + " bytes");
  if (!q.n) return call(s, q, undefined);
  s._b = "";
  s._y = function (s: any, d: string, end: boolean) {
    var p: any;
    s._b += d;
    if (!end) return;
    try { p = wire(s._b); } catch (e) { return err(s, q, 400, -32700, "invalid JSON"); }
    call(s, q, p);
  };
  return 1;
});
