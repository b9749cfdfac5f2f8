// Espruino binding: the board's net and Storage as the server library needs them. The host
// emulator provides the same modules, so the host bundle uses this binding too.

export var store = require("Storage");

/** Calls onConn(socket) for each accepted TCP connection. */
export function listen(port: number, onConn: (s: any) => void) {
  return require("net").createServer(onConn).listen(port);
}
