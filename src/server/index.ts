// sprat's server library: what a device app uses. A request goes to the route for its exact
// path if there is one (WebSocket endpoints, the web-app upload), then to the routes in
// import order: the REST mirror, then static files.
export { start, store, routes, paths, reply, fail, conns } from "./http";
export { endpoint, send, stream, close, clients, origins } from "./ws";
export { method, rpcError, publish, json, onClient } from "./rpc";
export { onWeb } from "./ota";
export { save } from "./auth";
import "./static";
