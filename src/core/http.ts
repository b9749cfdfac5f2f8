// Incremental HTTP/1.x request reader (server side) over binary-string chunks.
// Correct for any split of the input; pipelined requests wait in the buffer until next().

// line: max request-line bytes (414); head: max head bytes, request line to the empty line
// (431); hdrs: max header lines (431). Keep line + 2 <= head: then an over-long request line
// is a 414 whichever way the bytes were split.
import { find } from "./str";

export interface Limits { line: number; head: number; hdrs: number }

export interface Req {
  m: string;        // method
  u: string;        // raw request-target
  p: string;        // percent-decoded (binary string), dot-segments resolved; "*" for OPTIONS *
  q: string;        // raw query, without "?"
  v: number;        // minor version (only HTTP/1.0 and 1.1 are accepted; others are 505)
  // Lowercased names, values trimmed of SP/HTAB. A repeated field is joined with ", "
  // (Cookie too: HTTP/1.1 clients send one); a second Host is a 400; repeated
  // Content-Length fields must agree.
  h: { [name: string]: string };
  n: number;        // Content-Length (0 if absent)
  k: boolean;       // keep-alive: 1.1 unless Connection has "close"; 1.0 only with "keep-alive"
}

export interface HttpHandler {
  q(req: Req): void;
  b(data: string, end: boolean): void;
}

// Espruino 2v2x's String indexOf also "finds" a needle of two or more chars whose start
// matches the end of the string ("abc".indexOf("cd") == 2): here only single chars are
// searched for, or a hit is checked (find), or a false hit only costs a slower path.

// Hex digit value, or -1 (also for NaN past the end of a string).
export function hx(c: number): number {
  return c > 47 && c < 58 ? c - 48 : (c |= 32) > 96 && c < 103 ? c - 87 : -1;
}

// Percent-decode to a binary string. null on a bad escape or any NUL (raw or %00),
// so that no later C-string API can be fooled into truncating a path.
export function pct(s: string): string | null {
  var a = s.split("%"), o = a[0], i = 0, t: string, x: number, y: number;
  // each piece after a "%" starts with the two hex digits of one byte
  while (++i < a.length) {
    t = a[i];
    x = hx(t.charCodeAt(0));
    y = hx(t.charCodeAt(1));
    if ((x | y) < 0) return null;
    o += String.fromCharCode(x * 16 + y) + t.substr(2);
  }
  return o.indexOf("\0") < 0 ? o : null;
}

// Resolve "." and ".." segments and collapse empty ones. null if ".." would climb above
// the root: the server maps paths straight onto ZIP names, so escaping is never valid.
// A trailing "/" is kept (the server may map it to an index file).
export function norm(path: string): string | null {
  // the usual path has nothing to resolve
  if (path.charAt(0) == "/" && path.indexOf("/.") < 0 && path.indexOf("//") < 0) return path;
  var a = path.split("/"), o: string[] = [], i = 0, s = "";
  for (; i < a.length; i++) {
    s = a[i];
    if (s == "..") {
      if (!o.pop()) return null;   // nothing to pop: segments are never ""
    } else if (s && s != ".") o.push(s);
  }
  return "/" + o.join("/") + (o.length && (!s || s == "." || s == "..") ? "/" : "");
}

// Trim SP/HTAB only: String.trim would also strip 0xA0, a UTF-8 continuation byte.
function trim(s: string): string {
  var a = 0, z = s.length;
  while (" \t".indexOf(s.charAt(a)) >= 0 && a < z) a++;
  while (" \t".indexOf(s.charAt(z - 1)) >= 0 && z > a) z--;
  return s.substring(a, z);
}

// Is token t (lowercase) in the comma-separated list v? (Connection, Upgrade, ...)
export function tok(v: string | undefined, t: string): boolean {
  if (!v) return false;
  var a: any = v.toLowerCase(), i = 0, e: string;
  if (a == t) return true;   // the usual single token
  if (a.indexOf(t) < 0) return false;   // (2v29's false hits only cost the loop below)
  // elements usually come as "a, b": trimmed only if they may be t
  for (a = a.split(","); i < a.length; i++) if ((e = a[i]) == t || e == " " + t || e.indexOf(t) >= 0 && trim(e) == t) return true;
  return false;
}

// One native regex test instead of a JS loop per char (slow on Espruino): RFC 9110 token
// chars, field-value chars (no CTL but HTAB, no DEL; obs-text is fine), visible ASCII, the
// version. Only what Espruino's matcher does right (tools/gate.mjs regexProblem checks it;
// the self-test replays the HTTP vectors on Espruino); "|" is written \x7c to be safe.
var TOKEN = /^[-!#$%&'*+.^_`\x7c~0-9A-Za-z]+$/, FIELD = /^[-!#$%&'*+.^_`\x7c~0-9A-Za-z]+:[^\x00-\x08\x0a-\x1f\x7f]*$/,
  VCHAR = /^[!-~]+$/, VER = /^HTTP\/[0-9][.][0-9]$/,
  // What nearly every client sends, accepted with one test each: a request line with an
  // upper-case method, an origin-form target without "%" and HTTP/1.0 or 1.1 (all of them
  // valid, no 400 or 505 possible), and a field line "Name: value" whose value is at least two
  // chars, neither starting nor ending with whitespace (nothing to trim). Anything else takes
  // the general checks, which decide.
  LINE = /^[A-Z]+ \/[!-$&-~]* HTTP\/1[.][01]$/,
  FAST = /^[-!#$%&'*+.^_`\x7c~0-9A-Za-z]+: [^\x00-\x20\x7f][^\x00-\x08\x0a-\x1f\x7f]*[^\x00-\x20\x7f]$/;

// Content-Length, or -1 if invalid. A list of identical values ("5, 5", also what
// repeated fields become once joined) is accepted as RFC 9110 §8.6 allows.
function clen(v: string): number {
  var a = v.split(","), n = -1, i = 0, j: number, s: string, x: number, c: number;
  for (; i < a.length; i++) {
    s = trim(a[i]);
    if (!s) return -1;
    // digits by hand: Espruino reads "010" as octal
    for (x = j = 0; j < s.length; j++) {
      c = s.charCodeAt(j) - 48;
      if (c < 0 || c > 9 || x > 1e14) return -1;   // stay well inside exact integers
      x = x * 10 + c;
    }
    if (n >= 0 && x != n) return -1;
    n = x;
  }
  return n;
}

// Request line -> Req without n and k (those need the whole head), or an HTTP status.
// Check order: syntax 400, version 505, method 501, target 400.
var METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];
export function reqLine(l: string): any {
  var a = l.indexOf(" "), z: number, m: string, u: string, i: number, p: any;
  if (LINE.test(l)) {
    if (METHODS.indexOf(m = l.substr(0, a)) < 0) return 501;
    i = (u = l.substring(a + 1, z = l.length - 9)).indexOf("?");
    p = i < 0 ? u : u.substr(0, i);
    if (p.indexOf("/.") >= 0 || p.indexOf("//") >= 0) p = norm(p);
    return p ? { m: m, u: u, p: p, q: i < 0 ? "" : u.substr(i + 1), v: l.charCodeAt(z + 8) - 48, h: {} } : 400;
  }
  return line(l);
}

// The general request line check (see reqLine; exported for the test that holds the fast
// path to it).
export function line(l: string): any {
  var a = l.indexOf(" "), z = l.lastIndexOf(" "), m = l.substr(0, a), u = l.substring(a + 1, z),
    v = l.substr(z + 1), y = v.charCodeAt(7) - 48, i = u.indexOf("?"), p: any = i < 0 ? u : u.substr(0, i),
    r = i < 0 ? "" : u.substr(i + 1), w: string[], sc: string;
  // exactly two SPs (the target has no SP or CTL, only visible ASCII), a token method,
  // and exactly "HTTP/" DIGIT "." DIGIT
  if (a < 1 || !TOKEN.test(m) || !VCHAR.test(u) || !VER.test(v)) return 400;
  if (v.charAt(5) != "1" || y > 1) return 505;
  if (METHODS.indexOf(m) < 0) return 501;
  if (p.charAt(0) != "/" && u != "*") {
    // absolute-form (RFC 9112 §3.2.2: servers must accept it): drop scheme and authority
    i = p.indexOf(":");
    sc = p.substr(0, i).toLowerCase();
    w = p.substr(i + 3).split("/");
    // RFC 9110 §4.2.1: an http(s) URI with an empty host is invalid
    if (sc != "http" && sc != "https" || p.substr(i, 3) != "://" || !w[0]) return 400;
    p = "/" + w.slice(1).join("/");
  }
  // "*" only for OPTIONS (RFC 9112 §3.2.4); pct and norm are null on a bad path
  p = u == "*" ? m == "OPTIONS" && u : (p = p.indexOf("%") < 0 ? p : pct(p)) && norm(p);
  return p ? { m: m, u: u, p: p, q: r, v: y, h: {} } : 400;
}

// One header line into the field map h; a status on error, else 0.
function field(h: any, l: string): number {
  var z = l.indexOf(":"), k = l.substr(0, z).toLowerCase(), x = l.substr(z + 1);
  // no colon, empty name, whitespace before the colon, an obs-fold line (leading SP/HTAB)
  // or a CTL: a 400, as RFC 9112 §5.1/§5.2 allow
  if (!FIELD.test(l) || k == "__proto__") return 400;
  // values usually come as ": value": trim only what else there is
  if (x.charAt(0) == " ") x = x.substr(1);
  z = x.charCodeAt(0);
  if (z == 32 || z == 9 || (z = x.charCodeAt(x.length - 1)) == 32 || z == 9) x = trim(x);
  if (h.hasOwnProperty(k)) {
    if (k == "host") return 400;   // RFC 9112 §3.2: more than one Host is a 400
    x = h[k] + ", " + x;
  }
  h[k] = x;
  return 0;
}

// States in _s: 0 reading a head, 1 streaming a body, 2 waiting for next(); >2 = failed
// with that status. _l limits. _b buffered bytes (from the request line on, once it has begun), _i start
// of the first head line not yet read, _q the request being read (0 before its request line),
// _c header lines seen, _r body bytes still due, _x next() came early, _g inside run().
// Every property costs a JsVar per connection for as long as it exists (even set to 0), so
// a reader holds only what differs from the prototype's defaults (_s 0, _b "", _g 0, and
// limits a server shares by putting them there): _s while not 0, _b while it holds bytes, _r once a
// body came, the others only while they mean something (undefined reads as 0).
export function HttpReader(this: any, lim?: Limits) {
  if (lim) this._l = lim;
}

// A whole head at once: the usual case, a request in one chunk. Lines are split natively
// and checked in order as below; null if the incremental reader must decide (an error, a
// bare LF, a limit: its checks are the reference, and only it knows where each one fails).
// END: where the head whole() read ends. alone: only a head that ends b (nothing follows).
var END = 0;
function whole(b: string, l: Limits, alone?: number): any {
  var t = b.lastIndexOf("\r\n\r\n"), a: string[], n: number, q: any, h: any, i = 0, s: string, z: number, k: string;
  // the last terminator is the first unless a body or a pipelined request follows
  if (t >= 0 && t + 4 != b.length) {
    if (alone) return null;
    t = find(b, "\r\n\r\n");
  }
  if (t < 1 || t + 4 > l.head) return null;
  // (split on the terminator too: the last two lines are empty)
  n = (a = (t + 4 == b.length ? b : b.substr(0, t + 4)).split("\r\n")).length - 2;
  if (n > l.hdrs + 1 || a[0].length > l.line || typeof (q = reqLine(a[0])) == "number") return null;
  for (h = q.h; ++i < n;) {
    z = (s = a[i]).indexOf(":");
    k = s.substr(0, z).toLowerCase();
    // the usual field line (FAST) with a new name: nothing to trim or join. (A name h has
    // already, inherited ones and "__proto__" too, goes to field(), which decides.)
    if (FAST.test(s) && h[k] === undefined) h[k] = s.substr(z + 2);
    else if (field(h, s)) return null;
  }
  END = t + 4;
  return q;
}

// The head line by line from _i on, as bytes arrive: 0 need more bytes, a status on error,
// else the request (END: where its head ends). Each line is checked as soon as its LF
// arrives, so errors are found early and the outcome does not depend on how the bytes were
// split.
function lines(r: any): any {
  var b = r._b, l = r._l, i = r._i || 0, q = r._q, j: number, k: number, e: number, s: string;
  for (;;) {
    j = b.indexOf("\n", i);
    k = j < 0 ? b.length : j;
    e = b.charCodeAt(k - 1) == 13 ? k - 1 : k;
    // oversize is decided as soon as it is certain, before any terminator arrives
    if (!q && e > l.line) return 414;
    if (k >= l.head) return 431;
    if (j < 0) return 0;
    s = b.substring(i, e);
    r._i = i = j + 1;
    if (!q) {
      if (!s) {
        // empty lines before a request line are ignored (RFC 9112 §2.2)
        r._b = b = b.substr(i);
        r._i = i = 0;
      } else if (typeof (q = r._q = reqLine(s)) == "number") return q;
    } else if (s) {
      if ((r._c = (r._c || 0) + 1) > l.hdrs) return 431;
      if (k = field(q.h, s)) return k;
    } else {
      // (only this path sets them: a head whole() reads leaves none behind)
      delete r._i;
      delete r._q;
      delete r._c;
      END = i;
      return q;
    }
  }
}

// One head step: 0 need more bytes, a status on error, -1 a request was delivered. A head
// that came whole is read by whole(), else by lines() (Espruino walks the text of a function it
// runs, executed or not: the usual path stays short).
function head(r: any, hd: HttpHandler): number {
  var q = !r._q && whole(r._b, r._l) || lines(r), b: string;
  if (typeof q == "number") return q;
  b = r._b;
  return deliver(r, q, hd, END < b.length ? b.substr(END) : "");
}

// The framing checks that need the whole head, then q to the handler with the bytes after
// the head (rest) left in the buffer: -1, or a status.
function deliver(r: any, q: any, hd: HttpHandler, rest: string): number {
  var h = q.h, s = h["content-length"], k = s == null ? 0 : clen(s);
  if (k < 0 || q.v && h.host == null) return 400;
  // No chunked (or any other coded) request bodies: a device app only receives small
  // bodies with a known length, and de-chunking would add code to every build. RFC 9112
  // §6.1 makes an unsupported transfer coding a 501; with Content-Length as well, the
  // framing is ambiguous (a smuggling vector), so that is a plain 400.
  if (h["transfer-encoding"] != null) return s == null ? 501 : 400;
  q.n = k;
  s = h.connection;
  // (a client closing says so alone: no token search for that)
  q.k = !s ? !!q.v : s == "keep-alive" || s != "close" && (q.v || tok(s, "keep-alive")) && !tok(s, "close");
  if (rest) r._b = rest;
  else delete r._b;
  if (k) r._r = k;
  r._s = k ? 1 : 2;
  hd.q(q);
  return -1;
}

// Runs the reader as far as the bytes and the server allow, and returns the status
// (0 while fine). A call from inside a handler (push() or next() from q()/b()) only
// leaves its mark in the state: the running loop goes on with it.
function run(r: any, h: HttpHandler): number {
  var b: string, k: number;
  if (!r._g) {
    r._g = 1;   // (deleted again: one JsVar less on every connection)
    try {
      while (r._s < 2) {
        // nothing buffered: no body to pass on, no head to read (after every response)
        if (!(b = r._b)) break;
        if (r._s) {
          k = b.length < r._r ? b.length : r._r;
          if (k < b.length) r._b = b.substr(k);
          else delete r._b;
          if (!(r._r -= k)) {
            if (r._x) {
              delete r._s;
              delete r._x;
            } else r._s = 2;
          }
          h.b(k < b.length ? b.substr(0, k) : b, !r._r);
        } else if (k = head(r, h)) {
          if (k > 0) r._s = k;
        } else break;
      }
      // waiting: pipelined bytes only pile up, so cap them like a head
      if (r._s == 2 && r._b.length > r._l.head) r._s = 431;
    } finally {
      delete r._g;
    }
  }
  return r._s > 2 ? r._s : 0;
}

var P = HttpReader.prototype;
P._s = 0;
P._b = "";
P._g = 0; // (push() reads it every time: a property found nowhere costs Espruino a search of its built-ins)

P.push = function (this: any, d: string, h: HttpHandler): number {
  var r = this, q: any, k: number;
  // The usual case, a whole head alone in an idle reader, goes straight to the handler:
  // nothing to buffer, no loop (run() is for bodies, pipelined requests, heads in pieces).
  // run()'s re-entry guard holds here too: a push() from inside the handler only buffers.
  if (!r._s && !r._b && !r._g && (q = whole(d, r._l, 1))) {
    r._g = 1;
    try {
      k = deliver(r, q, h, "");
    } finally {
      delete r._g;
    }
    if (k > 0) r._s = k;
    // (bytes pushed from inside the handler: on with them, as run() would)
    else if (r._b) return run(r, h);
    return r._s > 2 ? r._s : 0;
  }
  // no copy of d while the buffer is empty
  if (r._s < 3) r._b = r._b ? r._b + d : d;
  return run(r, h);
};

// The server finished answering the current request. Called from inside q()/b() it only
// flips the state and the running loop goes on; called before the body has fully arrived,
// the rest of the body is still read (and passed to b()) and then the next head follows.
P.next = function (this: any, h: HttpHandler): number {
  if (this._s == 1) this._x = 1;
  if (this._s == 2) {
    delete this._s;
    if (!this._b) return 0; // nothing buffered: nothing to run (the usual case)
  }
  return run(this, h);
};

// Hands over (and forgets) the bytes after the current request, e.g. the first
// WebSocket frames that arrived with an Upgrade request.
P.rest = function (this: any): string {
  var b = this._b;
  delete this._b;
  return b;
};
