// sprat's server library: what a device app uses. Routes are tried in import order:
// WebSocket upgrades, the REST mirror, then static files.
export { start, store, routes, reply, fail, conns } from "./http";
export { endpoint, send, stream, close, clients, origins } from "./ws";
export { method, rpcError, publish, json, onClient } from "./rpc";
export { onWeb } from "./ota";
export { save } from "./auth";
import "./static";
