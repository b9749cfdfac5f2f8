// Optional baseline for tools/bench.mjs: a WebSocket echo server on Espruino's own `ws`
// module (EspruinoDocs modules/ws.js) over the built-in `http` module, in plain ES5. Only
// run when ESPRUINO_WS_MODULE points at a copy of ws.js (never committed here): the runner
// defines SPRAT_PORT and WS (that module's exports) before this script.
var server = WS.createServer(function (req, res) {
  res.writeHead(404, { "Content-Length": 0 });
  res.end();
});
server.on("websocket", function (ws) {
  ws.on("message", function (m) { ws.send(m); });
});
server.listen(SPRAT_PORT);
print("ws-module-echo listening on " + SPRAT_PORT);
