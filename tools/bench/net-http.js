// Ceiling for tools/bench.mjs: about the least an HTTP server written in JavaScript over `net`
// can do, in plain ES5. It reads nothing of the request but the path (one indexOf per file)
// and streams the same bytes of the same Storage file as tools/bench/http-pipe.js, a chunk
// per 'drain' as sprat does, then closes. Heads are made and Storage read once, at start; no
// parsing, checks, routing or limits; shared handlers, state on the socket. What it reaches
// says how much of the gap to the built-in `http` module is the runtime's (a JS 'data' and
// 'drain' per chunk) and how much is the server's own JavaScript. The runner defines
// SPRAT_PORT and BENCH (see http-pipe.js) before this script.
var S = require("Storage"), C = BENCH.chunk, F = [], k, f;
for (k in BENCH.files) {
  f = BENCH.files[k];
  // [what the request line holds, the file, where its bytes start and end, the head]
  F.push([" " + k + " ", S.read(f[0]), f[1], f[1] + f[2], "HTTP/1.1 200 OK\r\nContent-Type: " + f[3] + "\r\nContent-Length: " + f[2] +
    "\r\n" + (f[4] ? "Content-Encoding: " + f[4] + "\r\n" : "") + "Connection: close\r\n\r\n"]);
}
// (the last chunk is written with end(): no 'drain' waited for to close. "" + a Storage
// string would copy it: only the first chunk, behind the head, is concatenated)
function pump(c, h) {
  var p = c.p, n = c.e - p, z = c.z, d;
  if (n > C) n = C;
  c.p = p + n;
  d = z ? z.substr(p, n) : "";
  if (h) d = h + d;
  if (p + n < c.e) c.write(d);
  else if (z) {
    c.z = 0;
    c.end(d);
  }
}
function onData(d) {
  var c = this, i = 0;
  if (c.z) return;
  while (i < F.length && d.indexOf(F[i][0]) < 0) i++;
  if (i == F.length) return c.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  c.z = F[i][1];
  c.p = F[i][2];
  c.e = F[i][3];
  pump(c, F[i][4]);
}
function onDrain() { pump(this, ""); }
require("net").createServer(function (c) {
  c.on("data", onData);
  c.on("drain", onDrain);
}).listen(SPRAT_PORT);
print("net-http listening on " + SPRAT_PORT);
