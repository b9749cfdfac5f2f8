// The board profile's values, baked in at build time (tools/profiles.mjs has the schema and defaults).
declare module "sprat:profile" {
  export var profileName: string;
  export var description: string;
  export var runtime: string;
  export var board: string;
  export var network: string;
  export var port: number;
  export var storageSize: number;
  export var storagePage: number;
  export var webFile: string;
  export var maxClients: number;
  export var maxLine: number;
  export var maxHead: number;
  export var maxHeaders: number;
  export var maxBody: number;
  export var maxMessage: number;
  export var chunk: number;
  export var wsQueue: number;
  export var headTimeout: number;
  export var idleTimeout: number;
  export var keepAliveMax: number;
  export var pingInterval: number;
  export var pongTimeout: number;
  export var closeTimeout: number;
  export var tokenTtl: number;
  export var echo: boolean;
  export var spaFallback: boolean;
  export var origins: string;
  export var nativeSha1: boolean;
  export var publicRead: boolean;
  export var ota: boolean;
  export var auth: boolean;
  export var hosts: string;
  export var deviceName: string;
  export var ledPin: string | null;
  export var analogPin: string | null;
  export var telemetryMs: number;
}
