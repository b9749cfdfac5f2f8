// Kaluma binding (Raspberry Pi Pico W, Kaluma 1.2.x on JerryScript): Kaluma's network device
// driver adapted to the Espruino-style sockets src/server expects, and its LittleFS file
// system (mounted on "/" by the board's startup code) as a Storage-like `store`, with `file()`
// for reading a big file piecewise. Every Kaluma fact used here, with its source, is in
// docs/runtimes.md; tools/kaluma-emu emulates them (test/kaluma.test.mjs).
import "./kaluma-globals";
import * as P from "sprat:profile";

declare var __netdev: any;

var fs = require("fs"), D = "/";

// ---- sockets ------------------------------------------------------------------------------
// Kaluma's `net` module is not used: with the Pico W's driver its sockets never emit 'drain'
// (the driver calls write's callback before returning; stream.js's flush() checks its buffer
// in that callback, still finds the data just sent there, since it empties the buffer only
// after the call, and schedules another flush instead of 'drain'), and net.js puts an
// accepted connection's close callback on the listener's driver object. The
// binding talks to the network device driver itself: global.__netdev, the interface Kaluma
// documents for drivers (socket, bind, listen, get(fd) -> {accept_cb, read_cb, close_cb},
// write(fd, string, cb(err)), close(fd, cb(err))), so it also runs over other drivers.
//
// An adapter per connection, with Espruino's socket semantics:
//  - 'data' handlers get binary strings (the driver gives a Uint8Array per lwIP pbuf chain);
//  - write(str) queues and returns false; the queue goes to the driver one piece (<= chunk
//    bytes) per event-loop turn, so lwIP sends between pieces; a piece the driver refuses
//    (lwIP's send buffer is full: ERR_MEM; or the connection is gone) is retried every
//    100 ms, for 5 s at most, then the connection is closed;
//  - 'drain' (asynchronously) once the queue is empty, unless end() was called;
//  - end(str) closes once the queue is sent (tcp_close: FIN after the queued bytes); write()
//    after end() or close throws; 'close' once, however the connection ends;
//  - clsNow = 1 (Espruino's flag) closes at the next turn, the queue dropped;
//  - handlers run with this = the adapter.
// Pieces are binary strings: the driver takes strings and sends chars 0-255 as single bytes
// (jerryxx_string_to_ascii_char_buffer).
// The queue is a list of the strings written and an offset into the first: taking a piece
// off one long string (s = s.substr(n)) would copy the rest each time, O(n²) in the queue.
// Fields: _kD fd, _kQ queue (strings), _kO offset into _kQ[0], _kN piece being written, _kP a
// refused piece to send again first, _kR retries, _kE end() called, _kC closed,
// _kW written since the last 'drain', _kT a step is scheduled, _kH handlers {event: [fn]},
// _kX / _kY this connection's write callback / step function.

var dev: any, live: any[] = [];

/** Binary string of a Uint8Array, 1 KB per fromCharCode.apply (engines cap argument counts). */
function bin(u: any): string {
  var n = u.length, i = 0, r = "";
  for (; i < n; i += 1024) r += String.fromCharCode.apply(null, n > 1024 ? u.subarray(i, i + 1024) : u);
  return r;
}

function emit(s: any, e: string, a?: any) {
  var l = s._kH[e], i = 0;
  if (l) for (; i < l.length; i++) l[i].call(s, a);
}

function data(s: any, d: any) {
  if (!s._kC) emit(s, "data", typeof d == "string" ? d : bin(d));
}

/** The connection is over (closed: the driver already closed it): tell the server, once. */
function gone(s: any, closed?: any) {
  var i = live.indexOf(s);
  if (s._kC) return;
  s._kC = 1;
  s._kQ = [];
  s._kN = s._kP = "";
  if (i >= 0) live.splice(i, 1);
  if (!closed) dev.close(s._kD);
  emit(s, "close", false);
}

function later(s: any, ms: number) {
  if (!s._kT) {
    s._kT = 1;
    setTimeout(s._kY, ms);
  }
}

/** One turn: the next piece to the driver, or the close once all is sent, or 'drain'. */
function step(s: any) {
  var n: string, d: string;
  s._kT = 0;
  if (s._kC || s._kN) return;
  // Espruino's "close now" flag, which the server sets on a client that stopped reading:
  // drop the queue and close (else a stuck queue holds the socket through 5 s of retries)
  if (s.clsNow) return gone(s);
  if (s._kP || s._kQ.length) {
    if (!(n = s._kP)) {
      d = s._kQ[0];
      n = s._kO || d.length > P.chunk ? d.substr(s._kO, P.chunk) : d;
      if ((s._kO += n.length) >= d.length) {
        s._kQ.shift();
        s._kO = 0;
      }
    }
    s._kP = "";
    s._kN = n;
    dev.write(s._kD, n, s._kX);
  } else if (s._kE) {
    dev.close(s._kD); // the driver calls close_cb: gone()
    gone(s, 1);
  } else if (s._kW) {
    s._kW = 0;
    emit(s, "drain", s);
  }
}

/** The driver's answer for the piece in _kN: 0 sent (copied into lwIP), else refused. */
function sent(s: any, e: number) {
  if (s._kC) return;
  if (e) {
    s._kP = s._kN;
    s._kN = "";
    return s._kR++ < 50 ? later(s, 100) : gone(s);
  }
  s._kN = "";
  s._kR = 0;
  s._kW = 1;
  later(s, 0);
}

function Sock(this: any, fd: number) {
  var s = this, o = dev.get(fd);
  // (the flags and the pieces start undefined: falsy)
  s._kD = fd;
  s._kQ = [];
  s._kO = s._kR = 0;
  s._kH = {};
  s._kX = function (e: number) { sent(s, e); };
  s._kY = function () { step(s); };
  // the connection's own object: close_cb when the peer closes (the driver closes the socket
  // and frees its fd then), read_cb for drivers that deliver data per connection
  if (o) {
    o.close_cb = function () { gone(s, 1); };
    o.read_cb = function (d: any) { data(s, d); };
  }
  live.push(s);
}

var SP = Sock.prototype;
SP.on = function (e: string, f: any) {
  (this._kH[e] || (this._kH[e] = [])).push(f);
};
SP.write = function (d: string) {
  if (this._kC || this._kE) throw new Error("This socket is closed");
  if (d) {
    this._kQ.push(d);
    later(this, 0);
  }
  return false;
};
SP.end = function (d?: string) {
  if (this._kC || this._kE) return;
  this.write(d);
  this._kE = 1;
  later(this, 0);
};

/** Calls onConn(socket) for each accepted TCP connection. */
export function listen(port: number, onConn: (s: any) => void) {
  var fd: number, o: any, say = function (e: any) { if (e) console.log("sprat: cannot listen on port " + port + ": errno " + dev.errno); };
  dev = __netdev;
  fd = dev.socket("AF_INET", "STREAM"); // throws while Wifi is neither joined nor an access point
  o = dev.get(fd);
  o.accept_cb = function (c: number) { onConn(new (Sock as any)(c)); };
  // Kaluma 1.2.x's Pico W driver hands every connection's data to the listener's read_cb
  // (module_pico_cyw43.c, read_fd = server_fd), without saying whose it is: give it to the
  // only open connection, else to the newest (as net.js does). docs/runtimes.md, "Known issues".
  o.read_cb = function (d: any) { if (live.length) data(live[live.length - 1], d); };
  dev.bind(fd, dev.ip, port, function (e: number) {
    if (e) say(e);
    else dev.listen(fd, say);
  });
}

// ---- files --------------------------------------------------------------------------------
// Storage names are files in the root of the LittleFS mount ("/" on the Pico W). Kaluma's fs
// reads and writes Uint8Arrays at a position (fs.read/fs.write(fd, buf, off, len, pos)).

/** A file's size, or -1 if there is none. */
function size(n: string): number {
  try {
    var t = fs.stat(D + n);
    return t.isFile() ? t.size : -1;
  } catch (e) { return -1; }
}

var B = 512; // bytes per fs.read: a small Uint8Array, whatever the read's length

/** l bytes of file n from o, as a binary string (clipped at the end of the file). */
function rd(n: string, o: number, l: number): string {
  var f = fs.open(D + n, "r"), b = new Uint8Array(l < B ? l : B), a: string[] = [], k: number;
  try {
    while (l > 0 && (k = fs.read(f, b, 0, l < B ? l : B, o)) > 0) {
      a.push(bin(k < b.length ? b.subarray(0, k) : b));
      o += k;
      l -= k;
    }
  } finally { fs.close(f); }
  return a.join("");
}

/**
 * A file read on demand: what Espruino's memory-mapped Storage strings are used for. Once the
 * file is gone, substr gives null, as a string of an erased file on Espruino turns null.
 */
function View(this: any, n: string, z: number) {
  this._kF = n;
  this.length = z;
}
View.prototype.substr = function (o: number, l?: number) {
  var z = this.length;
  if (o < 0) o = o + z < 0 ? 0 : o + z;
  if (o > z) o = z;
  if (l === undefined || l > z - o) l = z - o;
  try {
    return l > 0 ? rd(this._kF, o, l) : "";
  } catch (e) { return null; }
};

/** A whole file to read piecewise ({length, substr}), or undefined if it is missing or empty. */
export function file(name: string): any {
  var z = size(name);
  return z > 0 ? new (View as any)(name, z) : undefined;
}

// Files up to this size are read whole as strings; a bigger one without an offset gives its
// View, so code written for memory-mapped strings (length, substr) stays within O(chunk) RAM.
var WHOLE = 4096;

/**
 * Storage-like files: read(name, off, len) (just those bytes), write(name, data, off, size)
 * (Espruino's meaning: no offset or offset 0 creates or replaces the file, another offset
 * writes into it), erase, getFree (an estimate: Kaluma reports no free space), list.
 */
export var store: any = {
  read: function (n: string, o?: number, l?: number): any {
    var z = size(n);
    if (z < 0) return undefined;
    if (o === undefined && z > WHOLE) return new (View as any)(n, z);
    o = o! > 0 ? (o! < z ? o! : z) : 0;
    return rd(n, o, l === undefined || l > z - o ? z - o : l);
  },
  write: function (n: string, d: string, o?: number) {
    var u = new Uint8Array(d.length), i = 0, f: number;
    for (; i < d.length; i++) u[i] = d.charCodeAt(i);
    // "w" creates or truncates; "r+" writes into an existing file. LittleFS commits a file
    // when it is closed: a power cut leaves the old or the new content, never a mix.
    f = fs.open(D + n, o ? "r+" : "w");
    try { fs.write(f, u, 0, u.length, o || 0); } finally { fs.close(f); }
    return true;
  },
  erase: function (n: string) {
    try { fs.unlink(D + n); } catch (e) { }
  },
  list: function () {
    var a = fs.readdir(D), r: string[] = [], i = 0;
    for (; i < a.length; i++) if (size(a[i]) >= 0) r.push(a[i]);
    return r;
  },
  // LittleFS blocks in use: the root's metadata pair, then per file its data blocks (each
  // holds a few bytes of skip-list pointers); files of up to 256 bytes (the flash's buffer
  // size, Kaluma's cache_size) are inlined in the metadata.
  getFree: function () {
    var a = store.list(), i = 0, u = 2, z: number;
    for (; i < a.length; i++) if ((z = size(a[i])) > 256) u += Math.ceil(z / (P.storagePage - 16));
    return (u = P.storageSize - u * P.storagePage) > 0 ? u : 0;
  }
};
