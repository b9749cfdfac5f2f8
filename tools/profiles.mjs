// Board profiles: schema, defaults and validation. A profile's values are baked into
// the bundle at build time as flat named constants (see profileModule), so terser can
// inline them and drop disabled features.
import { readFileSync, readdirSync } from "node:fs";
import { join, basename } from "node:path";

// [type, default, doc]. type: "number" | "boolean" | "string" | ["a","b"] (enum) | "string?" (string or null).
// A default of undefined means required.
export const SCHEMA = {
  description: ["string", "", "what board this profile is for"],
  runtime: [["espruino", "kaluma"], undefined, "the runtime binding the bundle uses (src/runtime/<runtime>.ts; docs/runtimes.md)"],
  board: ["string", undefined, "process.env.BOARD the profile expects (upload refuses a mismatch)"],
  network: [["none", "wifi", "espruino-wifi", "wiznet", "kaluma-wifi"], undefined, "how the board brings its network up"],
  port: ["number", 80, "TCP port the server listens on"],
  storage: {
    storageSize: ["number", undefined, "bytes of Storage (flash) on the board"],
    storagePage: ["number", 4096, "flash erase page size in bytes"],
    webFile: ["string", "web.zip", "Storage file holding the web app ZIP (max 28 characters)"],
  },
  limits: {
    maxClients: ["number", 8, "simultaneous connections (HTTP and WebSocket); more get 503"],
    maxLine: ["number", 512, "request-line bytes; longer gets 414"],
    maxHead: ["number", 2048, "request head bytes; more gets 431"],
    maxHeaders: ["number", 32, "request header count; more gets 431"],
    maxBody: ["number", 2048, "JSON request body bytes for /api; more gets 413"],
    maxMessage: ["number", 1024, "WebSocket message bytes for whole-message delivery; more gets close 1009"],
    chunk: ["number", 1024, "bytes written per socket write when streaming"],
    wsQueue: ["number", 8192, "bytes a WebSocket client may have queued before the slow-client policy applies"],
    headTimeout: ["number", 5000, "ms allowed to receive a request head"],
    idleTimeout: ["number", 30000, "ms a keep-alive connection may stay idle"],
    keepAliveMax: ["number", 536, "responses with a body over this many bytes close the connection: Espruino leaves Nagle on, so on a kept-alive connection the client's delayed ACK stalls each one 40-200 ms (0: always keep alive)"],
    pingInterval: ["number", 20000, "ms between server pings on an idle WebSocket"],
    pongTimeout: ["number", 10000, "ms to wait for a pong before dropping the client"],
    closeTimeout: ["number", 3000, "ms to wait for the peer's close frame before closing TCP"],
    tokenTtl: ["number", 43200000, "ms a session token from auth.login stays valid (12 h; docs/security.md)"],
  },
  features: {
    echo: ["boolean", false, "enable the /echo WebSocket conformance endpoint"],
    spaFallback: ["boolean", true, "unknown extension-less GETs serve index.html"],
    nativeSha1: ["boolean", true, "the firmware has require(\"crypto\").SHA1 (false bundles a JS SHA-1 for the WebSocket handshake)"],
    origins: ["string", "", "comma-separated extra origins allowed to open WebSockets and call the REST API (same origin always is)"],
    publicRead: ["boolean", true, "with a device password set, read-only methods (and topics) stay open without a token"],
    ota: ["boolean", true, "PUT /api/web, /api/web/rollback and web.info: the dashboard updates itself (docs/ota.md; false saves ~2.8 KB of bundle)"],
    auth: ["boolean", true, "the optional device password and sessions (docs/security.md; false saves ~2.2 KB of bundle: every call stays open)"],
    hosts: ["string", "", "comma-separated DNS names (besides IP addresses, single-label and .local/.lan/... names) the API and WebSockets answer to; \"*\": any (no DNS-rebinding check)"],
  },
  app: {
    deviceName: ["string", "sprat", "default device name"],
    ledPin: ["string?", null, "pin driving the LED control (null: simulated)"],
    analogPin: ["string?", null, "pin read as the 'load' telemetry series, 0-100% (null: simulated)"],
    telemetryMs: ["number", 200, "ms between telemetry pushes"],
  },
};

function typeName(v) {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

function check(file, path, spec, v) {
  const [type] = spec;
  const bad = (want) => { throw new Error(`${file}: ${path}: expected ${want}, got ${JSON.stringify(v)}`); };
  if (Array.isArray(type)) { if (!type.includes(v)) bad("one of " + type.map((t) => JSON.stringify(t)).join(", ")); }
  else if (type === "string?") { if (v !== null && typeof v !== "string") bad("a string or null"); }
  else if (typeName(v) !== type) bad("a " + type);
  else if (type === "number" && !(Number.isFinite(v) && v >= 0)) bad("a non-negative finite number");
}

/** Validate a parsed profile; returns the flat map of values with defaults applied. */
export function validate(file, json) {
  if (typeName(json) !== "object") throw new Error(`${file}: expected a JSON object at the top level`);
  const flat = {};
  const walk = (schema, obj, prefix) => {
    for (const k of Object.keys(obj)) {
      if (!(k in schema)) throw new Error(`${file}: ${prefix}${k}: unknown key (known: ${Object.keys(schema).join(", ")})`);
    }
    for (const [k, spec] of Object.entries(schema)) {
      if (!Array.isArray(spec)) {
        const sub = obj[k] === undefined ? {} : obj[k];
        if (typeName(sub) !== "object") throw new Error(`${file}: ${prefix}${k}: expected an object, got ${JSON.stringify(sub)}`);
        walk(spec, sub, prefix + k + ".");
        continue;
      }
      let v = obj[k];
      if (v === undefined) {
        if (spec[1] === undefined) throw new Error(`${file}: ${prefix}${k}: missing required value (${spec[2]})`);
        v = spec[1];
      }
      check(file, prefix + k, spec, v);
      flat[k] = v;
    }
  };
  walk(SCHEMA, json, "");
  if (flat.webFile.length > 28) throw new Error(`${file}: storage.webFile: Storage names are at most 28 characters`);
  if (flat.chunk < 64) throw new Error(`${file}: limits.chunk: must be at least 64`);
  // Kaluma has its own Wifi module and no require("crypto") (docs/runtimes.md)
  const kaluma = flat.runtime === "kaluma";
  if (kaluma !== (flat.network === "kaluma-wifi") && flat.network !== "none")
    throw new Error(`${file}: network: "${flat.network}" is not a network of runtime "${flat.runtime}"`);
  if (kaluma && flat.nativeSha1) throw new Error(`${file}: features.nativeSha1: Kaluma has no require("crypto"): set it to false`);
  return flat;
}

export function loadProfile(file) {
  let json;
  try { json = JSON.parse(readFileSync(file, "utf8")); }
  catch (e) { throw new Error(`${file}: ${e.code === "ENOENT" ? "no such profile" : "invalid JSON: " + e.message}`); }
  return { name: basename(file, ".json"), file, values: validate(file, json) };
}

export function loadProfiles(dir) {
  return readdirSync(dir).filter((f) => f.endsWith(".json")).sort().map((f) => loadProfile(join(dir, f)));
}

/** The ES module `sprat:profile` for one profile: one exported constant per value. */
export function profileModule(profile) {
  const lines = [`export var profileName = ${JSON.stringify(profile.name)};`];
  for (const [k, v] of Object.entries(profile.values)) lines.push(`export var ${k} = ${JSON.stringify(v)};`);
  return lines.join("\n") + "\n";
}
