// Messaging for device apps: JSON request/response methods and publish/subscribe topics over
// the /ws endpoint (docs/protocol.md), mirrored over REST as /api/<method>.
import { Req } from "../core/http";
import { find } from "../core/str";
import { utf8Escapes } from "../core/json";
import { routes, reply, fail, conns, now } from "./http";
import { endpoint, send, originOk, close, deny, Endpoint } from "./ws";
import * as P from "sprat:profile";

export type Method = (params: any, client: any) => any;
var methods: { [name: string]: Method } = {}, reads = ",";

/**
 * Registers a method; its handler returns the result (or a Promise), or throws rpcError().
 * read: it changes nothing, so REST may call it with GET (a GET can be forged by any page).
 */
export function method(name: string, fn: Method, read?: any) {
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

/**
 * JSON text from a client (strings come out as UTF-8 bytes on every build); invalid JSON is
 * answered with -32700 and gives undefined, which no JSON text parses to.
 */
function wire(t: string, s: any, q?: Req): any {
  try { return JSON.parse(UNI ? t : utf8Escapes(t)); } catch (e) { answer(s, q, null, rpcError(-32700, "invalid JSON")); }
}

/**
 * JSON text as UTF-8 bytes. On board builds device strings are UTF-8 byte strings and
 * JSON.stringify escapes bytes >= 0x80 as \u00XX, which a browser would read as Latin-1:
 * put the bytes back.
 */
export function json(v: any): string {
  var s = JSON.stringify(v);
  return s === undefined ? "null" : UNI ? s : utf8Escapes(s, 1);
}

var gate: any = 0;
/**
 * Access control (auth.ts): fn(method, read, client, req) returns an rpcError to refuse the
 * call, or 0. read: registered read-only (subscribe and unsubscribe are); client: the WebSocket
 * (0 over REST); req: the REST request (undefined over WebSocket).
 */
export function guard(fn: (name: string, read: boolean, c: any, q?: Req) => any) { gate = fn; }

/**
 * Sends the reply to a request with this id (none for notifications, id undefined): over the
 * WebSocket s, or as the REST response to q on socket s. e: the error, else v the result.
 * (Shared by every path, with no closure per call: Espruino builds one per call.)
 */
function answer(s: any, q: Req | undefined, id: any, e: any, v?: any) {
  var c = 200;
  if (id === undefined) return;
  if (v === undefined) v = null;
  if (e) {
    if (typeof e != "object" || typeof e.code != "number") e = rpcError(-32603, "" + e);
    c = STATUS[e.code] || 500;
  }
  if (!q) send(s, json(e ? { id: id, error: e } : { id: id, result: v }));
  // (over REST: unless the client left meanwhile)
  else if (s._r) reply(s, c, JSON_T, json(e ? { error: e } : v), cors(q) + (c == 401 ? "WWW-Authenticate: Bearer\r\n" : ""));
}

// Runs request r from the WebSocket s, or over REST (q the request, s its socket).
function run(r: any, s: any, q?: Req): any {
  var id = r && r.id, name = r && r.method, v: any, c = q ? 0 : s;
  if (!r || typeof r != "object" || typeof name != "string") return answer(s, q, id === undefined ? null : id, rpcError(-32600, "invalid request"));
  if (!methods.hasOwnProperty(name)) return answer(s, q, id, rpcError(-32601, "unknown method " + name));
  if (gate && (v = gate(name, find(reads, "," + name + ",") >= 0, c, q))) return answer(s, q, id, v);
  try {
    v = methods[name](r.params, c);
  } catch (e) {
    return answer(s, q, id, e);
  }
  if (v && typeof v.then == "function") v.then(function (x: any) { answer(s, q, id, 0, x); }, function (e: any) { answer(s, q, id, e); });
  else answer(s, q, id, 0, v);
}

// Subscriptions live in one string per client, ",a,b,": a few JsVars, not an object.
// add: subscribe, else unsubscribe; the list is checked whole before anything changes.
function topics(p: any, c: any, add?: any): string[] {
  var t = p && p.topics, i = 0, j: number, l: string;
  if (!Array.isArray(t) || !c) t = 0;
  else for (; i < t.length; i++) if (typeof t[i] != "string" || t[i].indexOf(",") >= 0) t = 0;
  if (!t) throw rpcError(-32602, "invalid params", { topics: "a list of topic names" });
  // (not split/join: on Espruino 2v29 ",".split(",x,") is [])
  for (i = 0; i < t.length; i++) {
    l = c._s || ",";
    j = find(l, "," + t[i] + ",");
    c._s = (j < 0 ? l : l.substr(0, j) + l.substr(j + t[i].length + 1)) + (add ? t[i] + "," : "");
  }
  return t;
}

// built in, registered as any other (read-only: they change only the caller's own state)
method("subscribe", function (p: any, c: any) { return topics(p, c, 1); }, 1);
method("unsubscribe", topics, 1);

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

var ws: Endpoint = {
  proto: "sprat.v1",
  msg: function (s: any, op: number, d: string) {
    var r: any;
    if (op != 1) return close(s, 1003, "JSON text only");
    // replies pile up if a client sends requests without reading the answers
    if (s._w > 4 * P.wsQueue) return close(s, 1008, "too many requests");
    if ((r = wire(d, s)) !== undefined) run(r, s);
  }
};
endpoint("/ws", ws);

/** Called as open(client) when a /ws client connects and close(client) when it leaves. */
export function onClient(open?: (c: any) => void, close?: (c: any) => void) {
  ws.open = open;
  ws.close = close;
}

// REST mirror: GET /api/<method> (no params) or POST with JSON params.
var JSON_T = "application/json";
var STATUS: { [code: string]: number } = { "-32700": 400, "-32600": 400, "-32602": 400, "-32601": 404, "-32001": 401, "-32003": 429, "-32004": 507 };

function cors(q: Req): string {
  var o = q.h.origin;
  return o && originOk(q) ? "Access-Control-Allow-Origin: " + o + "\r\nVary: Origin\r\n" : "";
}

function call(s: any, q: Req, params?: any): any {
  run({ id: 0, method: q.p.substr(5), params: params }, s, q);
  return 1;
}

function err(s: any, q: Req, status: number, code: number, msg: string, hdrs?: string) {
  return reply(s, status, JSON_T, json({ error: rpcError(code, msg) }), cors(q) + (hdrs || ""));
}

// Every request passes here: the route only decides (see ws.ts's), api() answers.
routes.push(function (s: any, q: Req) {
  return q.p.substr(0, 5) == "/api/" && api(s, q);
});

function api(s: any, q: Req) {
  // a page on another site must not drive the device through the user's browser
  if (!originOk(q)) return deny(s, q);
  // (PUT and the X-Sprat headers are the web-app upload's, Authorization the password's: only
  // with those features)
  if (q.m == "OPTIONS") return reply(s, 204, "", "", cors(q) + "Access-Control-Allow-Methods: GET, POST" + (P.ota ? ", PUT" : "") +
    "\r\nAccess-Control-Allow-Headers: Content-Type" + (P.auth ? ", Authorization" : "") + (P.ota ? ", X-Sprat-Size, X-Sprat-CRC32" : "") + "\r\n");
  if (q.m == "GET" || q.m == "HEAD") {
    if (methods.hasOwnProperty(q.p.substr(5)) && find(reads, "," + q.p.substr(5) + ",") < 0) return err(s, q, 405, -32600, "this method changes state: use POST", "Allow: POST\r\n");
    return call(s, q);
  }
  if (q.m != "POST") return err(s, q, 405, -32600, "use GET or POST", "Allow: GET, POST\r\n");
  if (q.n > P.maxBody) return fail(s, 413, "at most " + P.maxBody + " bytes");
  if (!q.n) return call(s, q);
  s._b = "";
  s._y = function (s: any, d: string, end: boolean) {
    var p: any;
    s._b += d;
    if (!end) return;
    if ((p = wire(s._b, s, q)) !== undefined) call(s, q, p);
  };
  return 1;
}
