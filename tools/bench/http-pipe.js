// Baseline for tools/bench.mjs: what an Espruino user writes today to serve a file from
// Storage, with the built-in `http` module and E.pipe, in plain ES5. It serves the same
// bytes sprat serves (a slice of the same Storage file: the ZIP entry's stored data, with
// the same Content-Encoding) in chunks of the profile's chunk size. The runner defines
// SPRAT_PORT and BENCH = { chunk, files: { "/path": [storageName, offset, length,
// contentType, contentEncoding] } } before this script.
var S = require("Storage");
require("http").createServer(function (req, res) {
  var f = BENCH.files[req.url], h;
  if (!f) {
    res.writeHead(404, { "Content-Length": 0 });
    res.end();
    return;
  }
  h = { "Content-Type": f[3], "Content-Length": f[2] };
  if (f[4]) h["Content-Encoding"] = f[4];
  res.writeHead(200, h);
  E.pipe(S.read(f[0], f[1], f[2]), res, { chunkSize: BENCH.chunk });
}).listen(SPRAT_PORT);
print("http-pipe listening on " + SPRAT_PORT);
