// Espruino binding: the board's net and Storage as the server library needs them. The host
// emulator provides the same modules, so the host bundle uses this binding too.

export var store = require("Storage");

/** Calls onConn(socket) for each accepted TCP connection. */
export function listen(port: number, onConn: (s: any) => void) {
  return require("net").createServer(onConn).listen(port);
}

/**
 * A whole Storage file to read piecewise: an object with `length` and `substr(off, len)`, or
 * a falsy value if there is none. Espruino's Storage.read gives a memory-mapped string, which
 * already is that (zero-copy); other runtimes return a view reading from flash on demand.
 */
export function file(name: string): any {
  return store.read(name);
}
