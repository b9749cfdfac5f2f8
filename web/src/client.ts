// Tiny client for a sprat device: one WebSocket to /ws carrying the messaging protocol of
// docs/protocol.md (JSON-RPC 2.0 shapes without "jsonrpc"), plus the REST mirror /api/<method>.
//
//   const dev = connect();                       // same origin, or ?device=host:port
//   dev.onState((s, info) => ...);               // "connecting" | "open" | "closed"
//   const st = await dev.call("status");         // rejects with RpcError
//   const off = dev.subscribe("telemetry", (p) => ...);
//   await dev.rest("control.set", { led: true }); // plain HTTP
//
// Device password (docs/security.md): a call refused with AUTH (-32001) asks
// opts.password(why) for the password, logs in (auth.login), keeps the session token in
// sessionStorage and retries the call once. A new socket resumes the session with
// auth.login {token} before anything else; REST calls send Authorization: Bearer <token>.
//
// Reconnects by itself with capped exponential backoff and jitter; topics are subscribed
// again after every reconnect. No dependencies; about 1.3 KB minified.

export type State = "connecting" | "open" | "closed";

/** What a state change carries: the attempt number, and when closed the delay before the next one. */
export interface StateInfo {
  attempt: number;
  /** ms until the next attempt ("closed" only; absent once close() was called) */
  retryIn?: number;
  /** WebSocket close code ("closed" only) */
  code?: number;
}

/** Client-side error codes (the device's are the JSON-RPC ones: -32601 unknown method, ...). */
export const TIMEOUT = -1, DISCONNECTED = -2, HTTP_ERROR = -3, AUTH = -32001;

export class RpcError extends Error {
  constructor(message: string, public code: number, public data?: any) {
    super(message);
  }
}

export interface Options {
  /** Device base URL, e.g. "http://192.168.4.1". Default: deviceBase(). */
  base?: string;
  /** WebSocket subprotocol(s) to request, e.g. "sprat.v1" (default: none). */
  protocols?: string | string[];
  /** Default call/rest timeout in ms (5000). */
  timeout?: number;
  /** Asked for the device password when a call needs one (why: "" or the last failure); null gives up. */
  password?: (why: string) => Promise<string | null>;
  /** Backoff: first retry delay and cap, ms (500, 15000). */
  minDelay?: number;
  maxDelay?: number;
}

export interface CallOptions {
  /** ms before the promise rejects with RpcError code TIMEOUT */
  timeout?: number;
  /** when the socket is not open, go over HTTP (rest()) instead of waiting for it */
  http?: boolean;
}

export type Handler = (params: any, topic: string) => void;

export interface Client {
  readonly state: State;
  /** Device base URL (no trailing slash), for plain HTTP requests. */
  readonly base: string;
  /** Request → result. Issued while not connected, it is sent once the socket opens (or times out). */
  call<T = any>(method: string, params?: any, opts?: CallOptions): Promise<T>;
  /** Notification (no reply). false when the socket is not open (nothing is queued). */
  notify(method: string, params?: any): boolean;
  /** Adds a topic handler; returns a function that removes it. */
  subscribe(topic: string, fn: Handler): () => void;
  /** Removes one handler, or all handlers of the topic. */
  unsubscribe(topic: string, fn?: Handler): void;
  /** State listener, also called at once with the current state; returns a function that removes it. */
  onState(fn: (s: State, info: StateInfo) => void): () => void;
  /** The same method over HTTP: GET /api/<method> without params, POST with JSON params. */
  rest<T = any>(method: string, params?: any, opts?: { timeout?: number }): Promise<T>;
  /** The session token (null: none); setting it keeps it for this tab (sessionStorage). */
  token: string | null;
  /** Asks for the password (opts.password) until auth.login succeeds; rejects if the user gives up. */
  login(): Promise<void>;
  /** Reconnect now (skipping the backoff delay) if not open. */
  reconnect(): void;
  /** Close for good. Pending calls reject with DISCONNECTED. */
  close(): void;
}

/** "http(s)://host[:port]" of the device: the page's origin, or the page URL's ?device=host:port. */
export function deviceBase(loc: { search: string; protocol: string; origin: string } = location): string {
  const d = new URLSearchParams(loc.search).get("device");
  if (!d) return loc.origin;
  return (/^https?:\/\//.test(d) ? d : loc.protocol + "//" + d).replace(/\/+$/, "");
}

interface Pending {
  m: string; // the request, serialised
  s: boolean; // sent on the current socket
  ok(v: any): void;
  ko(e: RpcError): void;
  t: ReturnType<typeof setTimeout>;
}

export function connect(opts: Options = {}): Client {
  const base = opts.base || deviceBase(),
    url = base.replace(/^http/, "ws") + "/ws",
    wait = opts.timeout || 5000,
    minD = opts.minDelay || 500,
    maxD = opts.maxDelay || 15000,
    pending = new Map<number, Pending>(),
    topics = new Map<string, Set<Handler>>(),
    listeners = new Set<(s: State, i: StateInfo) => void>(),
    KEY = "sprat.token " + base;
  let ws: WebSocket | null = null,
    state: State = "closed",
    info: StateInfo = { attempt: 0 },
    seq = 0,
    tries = 0,
    openedAt = 0,
    timer: ReturnType<typeof setTimeout> | undefined,
    done = false,
    tok: string | null = null,
    asking: Promise<void> | null = null;
  try {
    tok = sessionStorage.getItem(KEY);
  } catch {}
  const setTok = (t: string | null) => {
    tok = t;
    try {
      t ? sessionStorage.setItem(KEY, t) : sessionStorage.removeItem(KEY);
    } catch {}
  };

  const emit = (s: State, i: StateInfo) => {
    state = s;
    info = i;
    listeners.forEach((f) => f(s, i));
  };
  const settle = (id: number, e: RpcError | null, v?: any) => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    clearTimeout(p.t);
    e ? p.ko(e) : p.ok(v);
  };
  const isOpen = () => !!ws && ws.readyState === 1;
  const quiet = () => {};

  function open() {
    clearTimeout(timer);
    if (done || ws) return;
    openedAt = 0;
    emit("connecting", { attempt: tries });
    const s = (ws = new WebSocket(url, opts.protocols));
    s.onopen = () => {
      openedAt = Date.now();
      // the session first: the device answers in order, so every call after it is authorised
      if (tok) send("auth.login", { token: tok }).catch(() => setTok(null));
      emit("open", { attempt: tries });
      // all topics in one request; if the device refuses the batch, one by one
      const ts = [...topics.keys()];
      if (ts.length) call("subscribe", { topics: ts }).catch(() => ts.forEach((t) => call("subscribe", { topics: [t] }).catch(quiet)));
      pending.forEach((p) => {
        if (!p.s) s.send(p.m), (p.s = true);
      });
    };
    s.onmessage = (e) => {
      let m: any;
      try {
        m = JSON.parse(e.data);
      } catch {
        return;
      }
      if (!m || typeof m != "object") return;
      if (m.id != null && ("result" in m || m.error)) {
        const er = m.error;
        settle(m.id, er ? new RpcError(String(er.message || "error " + er.code), er.code, er.data) : null, m.result);
      } else if (typeof m.method == "string") {
        const hs = topics.get(m.method);
        if (hs) hs.forEach((f) => f(m.params, m.method));
      }
    };
    s.onclose = (e) => {
      if (ws !== s) return;
      ws = null;
      // a connection that held for a while starts the backoff over; one that the device
      // drops at once (full, or refusing us) keeps backing off
      if (openedAt && Date.now() - openedAt > 5000) tries = 0;
      pending.forEach((p, id) => {
        if (p.s) settle(id, new RpcError("connection lost", DISCONNECTED));
      });
      if (done) return emit("closed", { attempt: tries, code: e.code });
      const d = Math.min(maxD, minD * 2 ** tries++),
        delay = Math.round(d / 2 + (Math.random() * d) / 2);
      timer = setTimeout(open, delay);
      emit("closed", { attempt: tries, retryIn: delay, code: e.code });
    };
  }

  function login(): Promise<void> {
    return (asking ||= (async () => {
      let why = "";
      try {
        for (;;) {
          const pw = opts.password ? await opts.password(why) : null;
          if (pw == null) throw new RpcError("authentication required", AUTH);
          try {
            return setTok((await send<any>("auth.login", { password: pw })).token);
          } catch (e: any) {
            // wrong password, or too many failed logins (-32003): ask again, saying why
            if (e.code != AUTH && e.code != -32003) throw e;
            why = e.message + (e.data && e.data.retryIn ? ` (retry in ${e.data.retryIn} s)` : "");
          }
        }
      } finally {
        asking = null;
      }
    })());
  }
  // a call refused for want of a session: log in and retry it once
  const authed = <T>(m: string, f: () => Promise<T>) =>
    f().catch((e) => (e.code == AUTH && m != "auth.login" && opts.password ? login().then(f) : Promise.reject(e)));

  function call<T = any>(method: string, params?: any, o: CallOptions = {}): Promise<T> {
    return authed(method, () => send<T>(method, params, o, o.http && !isOpen()));
  }
  const rest = <T = any>(method: string, params?: any, o: { timeout?: number } = {}) => authed(method, () => send<T>(method, params, o, true));

  function send<T = any>(method: string, params?: any, o: CallOptions = {}, http?: boolean): Promise<T> {
    if (http) return fetchApi<T>(method, params, o);
    return new Promise<T>((ok, ko) => {
      if (done) return ko(new RpcError("closed", DISCONNECTED));
      const id = ++seq,
        msg: any = { id, method };
      if (params !== undefined) msg.params = params;
      const p: Pending = {
        m: JSON.stringify(msg),
        s: false,
        ok,
        ko,
        t: setTimeout(() => settle(id, new RpcError(method + ": timed out", TIMEOUT)), o.timeout || wait),
      };
      pending.set(id, p);
      if (isOpen()) ws!.send(p.m), (p.s = true);
    });
  }

  async function fetchApi<T = any>(method: string, params?: any, o: { timeout?: number } = {}): Promise<T> {
    const ac = new AbortController(),
      t = setTimeout(() => ac.abort(), o.timeout || wait);
    let r: Response, body: any;
    try {
      // no Content-Type: a text/plain POST needs no CORS preflight in the ?device= dev loop
      // (Authorization does, once logged in: the device allows it)
      const headers: Record<string, string> = tok ? { Authorization: "Bearer " + tok } : {};
      r = await fetch(
        base + "/api/" + method,
        params === undefined ? { headers, signal: ac.signal } : { method: "POST", body: JSON.stringify(params), headers, signal: ac.signal },
      );
      body = await r.text();
    } catch {
      throw ac.signal.aborted ? new RpcError(method + ": timed out", TIMEOUT) : new RpcError("network error", DISCONNECTED);
    } finally {
      clearTimeout(t);
    }
    try {
      body = JSON.parse(body);
    } catch {}
    if (r.ok) return body;
    const er = body && body.error;
    throw er ? new RpcError(String(er.message), er.code, er.data) : new RpcError("HTTP " + r.status, HTTP_ERROR, { status: r.status });
  }

  function unsubscribe(topic: string, fn?: Handler) {
    const hs = topics.get(topic);
    if (!hs) return;
    fn ? hs.delete(fn) : hs.clear();
    if (!hs.size) {
      topics.delete(topic);
      if (isOpen()) call("unsubscribe", { topics: [topic] }).catch(quiet);
    }
  }

  // back online, or back to the tab: try now rather than at the end of a long backoff
  if (typeof document == "object") {
    addEventListener("online", () => client.reconnect());
    document.addEventListener("visibilitychange", () => document.hidden || client.reconnect());
  }
  Promise.resolve().then(open); // lets the caller attach onState first

  const client: Client = {
    get state() {
      return state;
    },
    base,
    call,
    rest,
    notify(method, params) {
      if (!isOpen()) return false;
      ws!.send(JSON.stringify(params === undefined ? { method } : { method, params }));
      return true;
    },
    subscribe(topic, fn) {
      let hs = topics.get(topic);
      if (!hs) {
        topics.set(topic, (hs = new Set()));
        if (isOpen()) call("subscribe", { topics: [topic] }).catch(quiet);
      }
      hs.add(fn);
      return () => unsubscribe(topic, fn);
    },
    unsubscribe,
    get token() {
      return tok;
    },
    set token(t) {
      setTok(t);
    },
    login,
    onState(fn) {
      listeners.add(fn);
      fn(state, info);
      return () => listeners.delete(fn);
    },
    reconnect() {
      if (!ws && !done) (tries = 0), open();
    },
    close() {
      done = true;
      clearTimeout(timer);
      if (ws) ws.close(1000);
      else emit("closed", { attempt: tries });
      pending.forEach((_, id) => settle(id, new RpcError("closed", DISCONNECTED)));
    },
  };
  return client;
}
