import { port, webFile } from "sprat:profile";

var P = typeof SPRAT_PORT == "number" ? SPRAT_PORT : port;
require("net").createServer(function (sock: any) {
  sock.on("data", function () {
    var body = require("Storage").read(webFile, 0, 4) || "none";
    sock.end("HTTP/1.1 200 OK\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n\r\n" + body);
  });
}).listen(P);
console.log("sprat listening on http://127.0.0.1:" + P + "/");
