// Incremental HTTP/1.x request reader (server side) over binary-string chunks.
// Correct for any split of the input; pipelined requests wait in the buffer until next().

// line: max request-line bytes (414); head: max head bytes, request line to the empty line
// (431); hdrs: max header lines (431). Keep line + 2 <= head: then an over-long request line
// is a 414 whichever way the bytes were split.
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

// Hex digit value, or -1 (also for NaN past the end of a string).
export function hx(c: number): number {
  return c > 47 && c < 58 ? c - 48 : (c |= 32) > 96 && c < 103 ? c - 87 : -1;
}

// Percent-decode to a binary string. null on a bad escape or any NUL (raw or %00),
// so that no later C-string API can be fooled into truncating a path.
export function pct(s: string): string | null {
  var o = "", i = 0, c: number, a: number, b: number;
  for (; i < s.length; i++) {
    c = s.charCodeAt(i);
    if (c == 37) {
      a = hx(s.charCodeAt(i + 1));
      b = hx(s.charCodeAt(i + 2));
      if ((a | b) < 0) return null;
      c = a * 16 + b;
      i += 2;
    }
    if (!c) return null;
    o += String.fromCharCode(c);
  }
  return o;
}

// Resolve "." and ".." segments and collapse empty ones. null if ".." would climb above
// the root: the server maps paths straight onto ZIP names, so escaping is never valid.
// A trailing "/" is kept (the server may map it to an index file).
export function norm(path: string): string | null {
  var a = path.split("/"), o: string[] = [], i = 0, s = "";
  for (; i < a.length; i++) {
    s = a[i];
    if (s == "..") {
      if (!o.length) return null;
      o.pop();
    } else if (s && s != ".") o.push(s);
  }
  return "/" + o.join("/") + (o.length && (!s || s == "." || s == "..") ? "/" : "");
}

function ows(c: number): boolean { return c == 32 || c == 9; }

// Trim SP/HTAB only: String.trim would also strip 0xA0, a UTF-8 continuation byte.
function trim(s: string): string {
  var a = 0, z = s.length;
  while (a < z && ows(s.charCodeAt(a))) a++;
  while (z > a && ows(s.charCodeAt(z - 1))) z--;
  return s.substring(a, z);
}

// Is token t (lowercase) in the comma-separated list v? (Connection, Upgrade, ...)
export function tok(v: string | undefined, t: string): boolean {
  var a = v ? v.toLowerCase().split(",") : [], i = 0;
  for (; i < a.length; i++) if (trim(a[i]) == t) return true;
  return false;
}

// RFC 9110 token characters.
function tchars(s: string): boolean {
  for (var i = 0, c: number; i < s.length; i++) {
    c = s.charCodeAt(i);
    if (c < 33 || c > 126 || "\"(),/:;<=>?@[\\]{}".indexOf(s.charAt(i)) >= 0) return false;
  }
  return s.length > 0;
}

function dg(s: string, i: number): boolean {
  var c = s.charCodeAt(i);
  return c > 47 && c < 58;
}

// Content-Length, or -1 if invalid. A list of identical values ("5, 5", also what
// repeated fields become once joined) is accepted as RFC 9110 §8.6 allows.
function clen(v: string): number {
  var a = v.split(","), n = -1, i = 0, j: number, s: string, x: number;
  for (; i < a.length; i++) {
    s = trim(a[i]);
    if (!s) return -1;
    for (x = j = 0; j < s.length; j++) {
      if (!dg(s, j) || x > 1e14) return -1;   // stay well inside exact integers
      x = x * 10 + s.charCodeAt(j) - 48;
    }
    if (n >= 0 && x != n) return -1;
    n = x;
  }
  return n;
}

var METHODS = " GET HEAD POST PUT DELETE OPTIONS PATCH ";

// Parse a complete head t (request line and header lines, each ended by LF or CRLF,
// without the empty line). Returns the request, or an HTTP status. Check order:
// request-line syntax 400, version 505, method 501, target 400, header fields 400,
// Host 400, Transfer-Encoding 400/501.
function parse(t: string): any {
  var e = t.indexOf("\n"), l = t.substring(0, e), a: number, z: number, m: string, u: string,
    v: string, w: string, p: any, i: number, h: any = {}, n = 0, c: number, k: string, x: string;
  if (l.charCodeAt(e - 1) == 13) l = l.substr(0, e - 1);
  a = l.indexOf(" ");
  z = l.lastIndexOf(" ");
  m = l.substr(0, a);
  u = l.substring(a + 1, z);
  v = l.substr(z + 1);
  if (a < 1 || z <= a + 1 || !tchars(m)) return 400;
  for (i = 0; i < u.length; i++) {
    c = u.charCodeAt(i);
    if (c < 33 || c > 126) return 400;
  }
  if (v != "HTTP/1.1" && v != "HTTP/1.0")
    return v.length == 8 && v.substr(0, 5) == "HTTP/" && v.charAt(6) == "." && dg(v, 5) && dg(v, 7) ? 505 : 400;
  if (METHODS.indexOf(" " + m + " ") < 0) return 501;
  w = u;
  if (u == "*") {
    if (m != "OPTIONS") return 400;
  } else if (u.charAt(0) != "/") {
    // absolute-form (RFC 9112 §3.2.2: servers must accept it): drop scheme and authority
    i = u.indexOf("://");
    x = u.substr(0, i).toLowerCase();
    if (x != "http" && x != "https") return 400;
    for (i += 3; i < u.length && "/?".indexOf(u.charAt(i)) < 0; i++);
    w = "/" + u.substr(i + (u.charAt(i) == "/" ? 1 : 0));
  }
  i = w.indexOf("?");
  p = w == "*" ? w : pct(i < 0 ? w : w.substr(0, i));
  if (p === null || (p != "*" && (p = norm(p)) === null)) return 400;
  // header fields
  while ((a = e + 1) < t.length) {
    e = t.indexOf("\n", a);
    l = t.substring(a, t.charCodeAt(e - 1) == 13 ? e - 1 : e);
    z = l.indexOf(":");
    // no colon, empty name, whitespace before the colon or an obs-fold line (leading
    // SP/HTAB) all fail the token check: 400, as RFC 9112 §5.1/§5.2 allow
    k = l.substr(0, z).toLowerCase();
    if (z < 1 || !tchars(k) || k == "__proto__") return 400;
    x = trim(l.substr(z + 1));
    for (c = 0; c < x.length; c++) if (x.charCodeAt(c) < 32 && x.charCodeAt(c) != 9 || x.charCodeAt(c) == 127) return 400;
    if (h.hasOwnProperty(k)) {
      if (k == "host") return 400;   // RFC 9112 §3.2: more than one Host is a 400
      x = h[k] + ", " + x;
    }
    h[k] = x;
  }
  if (h["content-length"] != null) {
    n = clen(h["content-length"]);
    if (n < 0) return 400;
  }
  c = v == "HTTP/1.1" ? 1 : 0;
  if (c && h.host == null) return 400;
  // No chunked (or any other coded) request bodies: a device app only receives small
  // bodies with a known length, and de-chunking would add code to every build. RFC 9112
  // §6.1 makes an unsupported transfer coding a 501; with Content-Length as well, the
  // framing is ambiguous (a smuggling vector), so that is a plain 400.
  if (h["transfer-encoding"] != null) return h["content-length"] != null ? 400 : 501;
  return {
    m: m, u: u, p: p, q: i < 0 ? "" : w.substr(i + 1), v: c, h: h, n: n,
    k: c ? !tok(h.connection, "close") : tok(h.connection, "keep-alive") && !tok(h.connection, "close")
  };
}

// States in _s: 0 reading a head, 1 streaming a body, 2 waiting for next(); >2 = failed
// with that status. _b buffered bytes, _i start of the first head line not yet scanned,
// _c head lines seen, _r body bytes still due, _x next() came early, _g inside run().
export function HttpReader(this: any, lim: Limits) {
  this._l = lim;
  this._b = "";
  this._s = this._i = this._c = this._r = this._x = this._g = 0;
}

// One head step: 0 need more bytes, a status on error, -1 a request was delivered.
function head(r: any, h: HttpHandler): number {
  var b = r._b, l = r._l, i = r._i, j: number, k: number, q: any;
  if (!r._c) {
    // empty lines before a request line are ignored (RFC 9112 §2.2)
    while ((k = b.charCodeAt(0)) == 10 || k == 13 && b.charCodeAt(1) == 10) b = b.substr(k == 10 ? 1 : 2);
    r._b = b;
  }
  for (;;) {
    j = b.indexOf("\n", i);
    k = j < 0 ? b.length : j;
    // oversize is decided as soon as it is certain, before any terminator arrives
    if (!r._c && k - (b.charCodeAt(k - 1) == 13 ? 1 : 0) > l.line) return 414;
    if (k >= l.head) return 431;
    if (j < 0) return 0;
    if (j == i || j == i + 1 && b.charCodeAt(i) == 13) break;
    if (++r._c > l.hdrs + 1) return 431;
    r._i = i = j + 1;
  }
  q = parse(b.substr(0, i));
  if (typeof q == "number") return q;
  r._b = b.substr(j + 1);
  r._i = r._c = 0;
  r._r = q.n;
  r._s = q.n ? 1 : 2;
  h.q(q);
  return -1;
}

function run(r: any, h: HttpHandler): number {
  var b: string, k: number;
  r._g = 1;
  try {
    while (r._s < 3) {
      b = r._b;
      if (r._s == 2) {
        // waiting: pipelined bytes only pile up, so cap them like a head
        if (b.length > r._l.head) r._s = 431;
        break;
      }
      if (r._s == 1) {
        if (!b) break;
        k = b.length < r._r ? b.length : r._r;
        r._b = b.substr(k);
        if (!(r._r -= k)) {
          r._s = r._x ? 0 : 2;
          r._x = 0;
        }
        h.b(k < b.length ? b.substr(0, k) : b, !r._r);
      } else {
        k = head(r, h);
        if (k > 0) r._s = k;
        if (k >= 0) break;
      }
    }
  } finally {
    r._g = 0;
  }
  return r._s > 2 ? r._s : 0;
}

HttpReader.prototype.push = function (this: any, d: string, h: HttpHandler): number {
  if (this._s < 3) {
    this._b = this._b ? this._b + d : d;
    if (!this._g) return run(this, h);
  }
  return this._s > 2 ? this._s : 0;
};

// The server finished answering the current request. Called from inside q()/b() it only
// flips the state and the running loop goes on; called before the body has fully arrived,
// the rest of the body is still read (and passed to b()) and then the next head follows.
HttpReader.prototype.next = function (this: any, h: HttpHandler): number {
  if (this._s == 1) this._x = 1;
  if (this._s == 2) {
    this._s = 0;
    if (!this._g) return run(this, h);
  }
  return this._s > 2 ? this._s : 0;
};

// Hands over (and forgets) the bytes after the current request, e.g. the first
// WebSocket frames that arrived with an Upgrade request.
HttpReader.prototype.rest = function (this: any): string {
  var b = this._b;
  this._b = "";
  return b;
};
