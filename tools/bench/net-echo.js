// Baseline for tools/bench.mjs: a bare `net` echo server in plain ES5. It writes back every
// chunk it receives, untouched: no framing, no parsing. The ceiling for JS-level handling
// of a message on this runtime; sprat's WebSocket echo is compared with it at equal payload
// sizes. The runner defines SPRAT_PORT before this script.
require("net").createServer(function (c) {
  c.on("data", function (d) { c.write(d); });
}).listen(SPRAT_PORT);
print("net-echo listening on " + SPRAT_PORT);
