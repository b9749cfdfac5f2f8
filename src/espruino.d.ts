// The Espruino globals and modules device code touches. Only what sprat uses.
declare function require(name: string): any;
declare function print(...a: any[]): void;
declare var console: { log(...a: any[]): void };
declare function setTimeout(fn: () => void, ms?: number): any;
declare function clearTimeout(id: any): void;
declare function setInterval(fn: () => void, ms?: number): any;
declare function clearInterval(id: any): void;
declare function btoa(s: any): string;
declare function atob(s: string): string;
declare function getTime(): number;
declare var E: any;
declare var process: any;
/** Set by a runner before the bundle runs, to override the profile's port. */
declare var SPRAT_PORT: number | undefined;
declare var global: any;
declare function analogWrite(pin: any, v: number): void;
declare function digitalWrite(pin: any, v: number): void;
declare function analogRead(pin: any): number;
