// The sprat dashboard: status, live telemetry, controls, settings, log and web app update
// over one WebSocket (see client.ts and docs/protocol.md).
import { connect, RpcError, State, StateInfo } from "./client";
import { Chart, Series } from "./chart";
import { crc32 } from "./crc32";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const txt = (id: string, s: any) => ($(id).textContent = s == null || s === "" ? "—" : String(s));
const el = <K extends keyof HTMLElementTagNameMap>(tag: K, cls = "", text?: any) => {
  const e = document.createElement(tag);
  e.className = cls;
  if (text != null) e.textContent = String(text);
  return e;
};
const pad = (n: number) => String(n).padStart(2, "0");
const num = (n: number) => n.toLocaleString();
const size = (n: number) => (n >= 1048576 ? (n / 1048576).toFixed(1) + " MB" : (n / 1024).toFixed(n < 10240 ? 1 : 0) + " KB");
const pct = (a: number, b: number) => (b > 0 ? Math.min(100, Math.max(0, (a / b) * 100)) : 0);
function dur(s: number) {
  s = Math.max(0, Math.floor(s));
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60, x = s % 60;
  return d ? `${d}d ${h}h ${m}m` : h ? `${h}h ${m}m ${x}s` : m ? `${m}m ${x}s` : `${x}s`;
}
// An error for people: the device's per-field messages when it sent them.
function why(e: any) {
  const d = e && e.data;
  return d && typeof d == "object" && e.code == -32602 ? Object.keys(d).map((k) => `${k}: ${d[k]}`).join("; ") : (e && e.message) || String(e);
}

let toastT: ReturnType<typeof setTimeout>;
function toast(msg: string) {
  const t = $("toast");
  t.textContent = msg;
  t.classList.add("show");
  clearTimeout(toastT);
  toastT = setTimeout(() => t.classList.remove("show"), 4500);
}

// ---- device password: asked when a call needs a session (client.ts logs in and retries) ----
const dlg = $<HTMLDialogElement>("login"), pw = $<HTMLInputElement>("pw");
$("pw-x").onclick = () => dlg.close();
const dev = connect({
  protocols: "sprat.v1",
  password: (w) =>
    new Promise((ok) => {
      $("pw-msg").textContent = w;
      pw.value = dlg.returnValue = "";
      dlg.onclose = () => ok(dlg.returnValue ? pw.value : null);
      dlg.showModal();
    }),
});
const quiet = () => {};

// ---- device clock: seconds since boot → wall-clock time -------------------------------
let ref = { t: NaN, at: 0 };
const sync = (t: number) => isFinite(t) && (ref = { t, at: performance.now() });
const devNow = () => ref.t + (performance.now() - ref.at) / 1000;
function clock(t: number, ms = false) {
  if (!isFinite(ref.t)) return "+" + dur(t);
  const d = new Date(Date.now() - (devNow() - t) * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` + (ms ? "." + Math.floor(d.getMilliseconds() / 100) : "");
}

// ---- connection indicator ---------------------------------------------------------------
let retryAt = 0, lastSeen = 0;
function connText(s: State, i: StateInfo) {
  txt(
    "conn-text",
    s == "open" ? "Connected"
      : s == "connecting" ? (i.attempt ? `Reconnecting… (attempt ${i.attempt + 1})` : "Connecting…")
      : retryAt ? `Offline · retrying in ${Math.max(1, Math.ceil((retryAt - Date.now()) / 1000))} s` : "Disconnected",
  );
}

function onOpen() {
  $("s-age").textContent = "";
  refreshStatus();
  dev.call("control.get").then(showCtl, quiet);
  dev.call("settings.get").then(fillSettings, quiet);
  dev.call("log.get").then(showLog, quiet);
  checkWeb();
}

// ---- status ---------------------------------------------------------------------------
let st: any = null, stAt = 0, memTotal = 0;
function bar(id: string, p: number, warn = true) {
  const i = $(id), b = i.parentElement!;
  i.style.width = p + "%";
  b.setAttribute("aria-valuenow", String(Math.round(p)));
  b.classList.toggle("hi", warn && p >= 75);
  b.classList.toggle("full", warn && p >= 90);
}
function setName(n: any) {
  if (typeof n != "string" || !n) return;
  $("dev-name").textContent = n;
  document.title = n + " · sprat";
}
function refreshStatus() {
  dev.call("status").then(showStatus, quiet);
}
function showStatus(s: any) {
  st = s;
  stAt = lastSeen = Date.now();
  sync(+s.uptime);
  setName(s.name);
  txt("s-name", s.name);
  txt("s-profile", s.profile);
  txt("s-version", s.version);
  txt("s-clients", s.clients);
  const n = s.net || {};
  txt("s-net", [n.ip, n.rssi != null && n.rssi + " dBm"].filter((x) => x || x === 0).join(" · ") || "none");
  const m = s.mem || {}, f = s.flash || {};
  memTotal = +m.total || 0;
  txt("s-mem", m.total ? `${num(m.used)} / ${num(m.total)} · ${Math.round(pct(m.used, m.total))}%` : "");
  bar("b-mem", pct(m.used, m.total));
  txt("s-flash", f.total ? `${size(f.total - f.free)} of ${size(f.total)} · ${size(f.free)} free` : "");
  bar("b-flash", pct(f.total - f.free, f.total));
  tick();
}
function tick() {
  if (st && dev.state == "open") txt("s-uptime", dur(+st.uptime + (Date.now() - stAt) / 1000));
  if (dev.state == "closed" && retryAt) connText("closed", { attempt: 0 });
}
setInterval(tick, 1000);
setInterval(() => dev.state == "open" && !document.hidden && refreshStatus(), 5000);

// ---- telemetry --------------------------------------------------------------------------
const series: Series[] = [
  { name: "Temperature", unit: "°C", axis: 0, color: "--c1", dec: 1, on: true },
  { name: "Load", unit: "%", axis: 1, color: "--c2", dec: 0, on: true },
  { name: "Memory", unit: "%", axis: 1, color: "--c3", dec: 0, on: true },
];
const vals = series.map((se, k) => {
  const b = el("button"), v = el("b", "", "—");
  b.type = "button";
  b.setAttribute("aria-pressed", "true");
  const sw = el("i");
  sw.style.background = `var(${se.color})`;
  v.append(el("small", "", se.unit));
  b.append(sw, el("span", "", se.name), v);
  b.onclick = () => {
    se.on = !se.on;
    b.setAttribute("aria-pressed", String(se.on));
    chart.kick();
  };
  $("legend").append(b);
  return (x: number) => (v.firstChild!.textContent = isFinite(x) ? x.toFixed(series[k].dec) : "—");
});
const cv = $<HTMLCanvasElement>("chart");
const chart = new Chart(cv, series, ["°", "%"], (t) => clock(t, true), () => {
  series.forEach((_, k) => vals[k](chart.last(k)));
  cv.setAttribute("aria-label", "Telemetry chart. Latest: " + series.map((se, k) => `${se.name} ${chart.last(k).toFixed(se.dec)} ${se.unit}`).join(", "));
  $("rate").textContent = chart.paused ? "Paused" : dev.state == "open" && chart.dt ? (1 / chart.dt).toFixed(1) + " updates/s" : "";
});
dev.subscribe("telemetry", (p) => {
  if (!p) return;
  sync(+p.t);
  chart.push(+p.t, [+p.temp, +p.load, memTotal ? (p.mem / memTotal) * 100 : NaN]);
});
for (const r of document.querySelectorAll<HTMLInputElement>("[name=win]")) r.onchange = () => ((chart.win = +r.value), chart.kick());
const pb = $("pause");
pb.onclick = () => {
  chart.pause(!chart.paused);
  pb.setAttribute("aria-pressed", String(chart.paused));
  pb.textContent = chart.paused ? "Resume" : "Pause";
};

// ---- controls: the UI shows the DEVICE's state (replies and the `control` topic) ---------
let ctl = { led: false, level: 0 };
let want: number | null = null, sending = false;
const led = $("led"), level = $<HTMLInputElement>("level");
function showCtl(s: any) {
  if (!s) return;
  ctl = s;
  led.setAttribute("aria-checked", String(!!s.led));
  txt("led-state", s.led ? "On" : "Off");
  $("led-lamp").classList.toggle("on", !!s.led);
  $("led-lamp").style.setProperty("--lv", String(s.level / 100));
  txt("level-out", s.level + "%");
  if (!sending && want == null) level.value = s.level;
}
dev.subscribe("control", showCtl);
led.onclick = () => {
  led.classList.add("busy");
  dev.call("control.set", { led: !ctl.led })
    .then(showCtl, (e) => toast("LED: " + why(e)))
    .finally(() => led.classList.remove("busy"));
};
// the slider sends at most one request at a time, always the latest value
function sendLevel() {
  if (sending || want == null) return;
  const v = want;
  want = null;
  sending = true;
  dev.call("control.set", { level: v })
    .then(showCtl, (e) => toast("Level: " + why(e)))
    .finally(() => {
      sending = false;
      if (want != null) sendLevel();
      else showCtl(ctl);
    });
}
level.oninput = () => {
  want = +level.value;
  sendLevel();
};

// ---- settings -----------------------------------------------------------------------------
const form = $<HTMLFormElement>("settings");
const fields = () => [...form.querySelectorAll("input")] as HTMLInputElement[];
function fieldErr(name: string, msg: string) {
  const e = document.getElementById("e-" + name), i = form.querySelector<HTMLInputElement>(`[name="${name}"]`);
  if (e) e.textContent = msg;
  if (i) i.setAttribute("aria-invalid", String(!!msg));
  return !!e;
}
function fillSettings(s: any) {
  if (!s) return;
  setName(s.name);
  if (s.name) txt("s-name", s.name);
  if (s.telemetryMs) txt("s-tele", `every ${num(s.telemetryMs)} ms`);
  // fields being edited keep what the user typed
  for (const i of fields()) if (!i.dataset.dirty && s[i.name] != null) i.value = s[i.name];
}
dev.subscribe("settings", fillSettings);
form.oninput = (e) => {
  const i = e.target as HTMLInputElement;
  i.dataset.dirty = "1";
  fieldErr(i.name, "");
  txt("set-msg", "");
};
form.onsubmit = (e) => {
  e.preventDefault();
  const p: any = {};
  for (const i of fields()) {
    fieldErr(i.name, "");
    const v = i.value.trim();
    p[i.name] = i.type == "number" ? (v === "" ? null : +v) : i.value;
  }
  const save = $<HTMLButtonElement>("save");
  save.disabled = true;
  $("set-msg").textContent = "Saving…";
  dev.call("settings.set", p).then(
    (r) => {
      for (const i of fields()) delete i.dataset.dirty;
      fillSettings(r);
      $("set-msg").textContent = "Saved ✓";
    },
    (er: RpcError) => {
      const d = er.data, rest: string[] = [];
      if (er.code == -32602 && d && typeof d == "object") for (const k in d) fieldErr(k, String(d[k])) || rest.push(`${k}: ${d[k]}`);
      else rest.push(er.message);
      $("set-msg").textContent = rest.join("; ");
      const bad = form.querySelector<HTMLElement>("[aria-invalid=true]");
      if (bad) bad.focus();
    },
  ).finally(() => (save.disabled = dev.state != "open"));
};

// set, change or (empty) remove the device password; the reply's token is the new session
const pwOld = $<HTMLInputElement>("f-old"), pwNew = $<HTMLInputElement>("f-new");
$<HTMLFormElement>("pwf").onsubmit = (e) => {
  e.preventDefault();
  const n = pwNew.value;
  dev.call("auth.setPassword", { old: pwOld.value, new: n }).then(
    (r) => {
      dev.token = r && r.token;
      pwOld.value = pwNew.value = "";
      txt("pwf-msg", n ? "Password set ✓" : "No password: the device is open");
    },
    (er) => txt("pwf-msg", why(er)),
  );
};

// ---- log: newest first, capped ------------------------------------------------------------
const MAX_LOG = 200, log = $("log");
function logItem(e: any, fresh: boolean) {
  const li = el("li", fresh ? "new" : ""), t = el("time", "", clock(+e.t)), lv = String(e.level || "info");
  t.title = "uptime " + dur(+e.t);
  li.append(t, el("span", "lv lv-" + lv.toLowerCase().replace(/\W/g, ""), lv), el("span", "", e.msg));
  return li;
}
function emptyLog() {
  if (!log.children.length) log.append(el("li", "empty", "No events yet"));
}
function showLog(list: any) {
  if (!Array.isArray(list)) return;
  log.replaceChildren(...list.slice(-MAX_LOG).reverse().map((e) => logItem(e, false)));
  emptyLog();
}
dev.subscribe("log", (e) => {
  if (!e) return;
  const first = log.firstElementChild;
  if (first && first.classList.contains("empty")) first.remove();
  log.prepend(logItem(e, true));
  while (log.children.length > MAX_LOG) log.lastElementChild!.remove();
});
$("log-clear").onclick = () => (log.replaceChildren(), emptyLog());
emptyLog();

// ---- web app update -------------------------------------------------------------------------
const drop = $("drop"), file = $<HTMLInputElement>("file"), rb = $<HTMLButtonElement>("rollback"), upBar = $("up-bar");
let upOk = false, busy = false, armed: ReturnType<typeof setTimeout> | 0 = 0;
function upMsg(s: string, cls = "") {
  const m = $("up-msg");
  m.textContent = s;
  m.className = "small " + cls;
}
function upState(ok: boolean, info: string) {
  upOk = ok;
  txt("up-info", info);
  drop.classList.toggle("off", !ok || busy);
  file.disabled = rb.disabled = !ok || busy;
}
// web.info: {active, slots: [{name, size, crc, valid}], free, max, rollback}
function webInfo(i: any): string {
  if (!i || !Array.isArray(i.slots)) return "Ready for an update.";
  const kb = (n: number) => (n / 1024).toFixed(1) + " KB";
  const cur = i.slots.find((x: any) => x.name == i.active), prev = i.slots.find((x: any) => x.name != i.active);
  return `Active: ${i.active}${cur && cur.valid ? ` (${kb(cur.size)}, CRC ${cur.crc})` : ""} · ` +
    `previous: ${prev && prev.valid ? kb(prev.size) + (i.rollback ? ", can roll back" : "") : "none"}` +
    (typeof i.max == "number" ? ` · room for ${kb(i.max)}` : "");
}
function checkWeb() {
  dev.call("web.info").then(
    (i) => {
      upState(true, webInfo(i));
      rb.disabled = rb.disabled || !(i && i.rollback);
    },
    (e) => upState(false, e.code == -32601 ? "Web app update is not available on this firmware yet." : "Update status unknown: " + why(e)),
  );
}
function done(ok: boolean, s: string) {
  busy = false;
  upMsg(s, ok ? "ok" : "bad");
  $("reload").hidden = !ok;
  upState(upOk, $("up-info").textContent!);
}
async function upload(f?: File) {
  if (!f || !upOk || busy) return;
  const buf = new Uint8Array(await f.arrayBuffer());
  if (buf.length < 22 || buf[0] != 0x50 || buf[1] != 0x4b) return upMsg(`${f.name} is not a ZIP file.`, "bad");
  busy = true;
  upState(upOk, $("up-info").textContent!);
  upMsg(`Uploading ${f.name} (${size(buf.length)})…`);
  const x = new XMLHttpRequest(), prog = (p: number) => bar("up-bar-i", p * 100, false);
  upBar.hidden = false;
  prog(0);
  x.open("PUT", dev.base + "/api/web");
  x.setRequestHeader("Content-Type", "application/zip");
  x.setRequestHeader("X-Sprat-Size", String(buf.length));
  x.setRequestHeader("X-Sprat-CRC32", crc32(buf).toString(16).padStart(8, "0"));
  if (dev.token) x.setRequestHeader("Authorization", "Bearer " + dev.token);
  x.upload.onprogress = (e) => prog(e.loaded / (e.total || buf.length));
  x.onload = () => {
    let r: any;
    try {
      r = JSON.parse(x.responseText);
    } catch {}
    if (x.status < 300) prog(1), done(true, "Installed. Reload the page to use it."), checkWeb();
    else if (x.status == 401) done(false, ""), dev.login().then(() => upload(f), () => upMsg("Not logged in.", "bad"));
    else done(false, "Update failed: " + (r && r.error ? why(r.error) : "HTTP " + x.status));
  };
  x.onerror = x.ontimeout = () => done(false, "Update failed: network error.");
  x.send(buf);
}
file.onchange = () => (upload(file.files![0]), (file.value = ""));
drop.ondragover = (e) => (e.preventDefault(), drop.classList.add("over"));
drop.ondragleave = () => drop.classList.remove("over");
drop.ondrop = (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  upload(e.dataTransfer!.files[0]);
};
// a file dropped next to the zone must not navigate away from the dashboard
addEventListener("dragover", (e) => e.preventDefault());
addEventListener("drop", (e) => e.preventDefault());
function disarm() {
  clearTimeout(armed as any);
  armed = 0;
  rb.textContent = "Roll back";
  rb.classList.remove("warn");
}
// with a device password set, a roll back needs the session: log in and try again
async function rollback(): Promise<any> {
  const r = await fetch(dev.base + "/api/web/rollback", { method: "POST", headers: dev.token ? { Authorization: "Bearer " + dev.token } : {} }),
    b = await r.json().catch(quiet);
  return r.status == 401 ? dev.login().then(rollback) : [r, b];
}
rb.onclick = async () => {
  if (!armed) {
    rb.textContent = "Click again to roll back";
    rb.classList.add("warn");
    armed = setTimeout(disarm, 4000);
    return;
  }
  disarm();
  try {
    const [r, b] = await rollback();
    if (r.ok) done(true, "Rolled back to the previous version. Reload the page to use it."), checkWeb();
    else done(false, "Roll back failed: " + (b && b.error ? why(b.error) : "HTTP " + r.status));
  } catch (e) {
    done(false, "Roll back failed: " + (e instanceof RpcError ? e.message : "network error."));
  }
};
$("reload").onclick = () => location.reload();

// ---- connection state (last: its listener runs at once and touches everything above) ----
dev.onState((s, i) => {
  document.body.dataset.conn = s;
  retryAt = i.retryIn ? Date.now() + i.retryIn : 0;
  connText(s, i);
  $("retry").hidden = s != "closed" || !retryAt;
  for (const id of ["led", "level", "save"]) $<HTMLInputElement>(id).disabled = s != "open";
  chart.kick();
  if (s == "open") onOpen();
  else if (lastSeen) txt("s-age", "last update " + new Date(lastSeen).toTimeString().slice(0, 8));
});
$("retry").onclick = () => dev.reconnect();

// a handle for the browser console and the end-to-end tests
(window as any).sprat = { dev, chart };
