// A small live line chart on a canvas: a ring buffer of samples, two y axes (axis 0 on the
// left, axis 1 on the right), a sliding time window, and at most one redraw per frame.

export interface Series {
  name: string;
  unit: string;
  axis: 0 | 1;
  /** CSS custom property holding the colour, e.g. "--c1" (a #rrggbb value) */
  color: string;
  dec: number;
  on: boolean;
}

const CAP = 4096, // 2 min at 34 samples/s
  T = 12,
  B = 26;

// A "nice" step (1, 2, 2.5 or 5 × 10^k) of at least x.
function nice(x: number) {
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x * 0.999) return m * p;
  return 10 * p;
}

// 4 grid divisions covering [lo, hi] on nice values.
function range(lo: number, hi: number): [number, number] {
  if (!(hi > lo)) (lo -= 1), (hi += 1);
  let s = nice((hi - lo) / 4),
    a = Math.floor(lo / s) * s;
  while (a + 4 * s < hi) (s = nice(s * 1.01)), (a = Math.floor(lo / s) * s);
  return [a, a + 4 * s];
}

export class Chart {
  t = new Float64Array(CAP);
  v: Float64Array[];
  brk = new Uint8Array(CAP); // 1: a gap before this sample
  n = 0;
  head = 0;
  dt = 0; // smoothed sample interval, s
  win = 30;
  end = 0; // view end while paused
  paused = false;
  hx = -1; // hover x (css px), -1 none
  private raf = 0;
  private w = 0;
  private h = 0;
  private dpr = 1;
  private cols: { [k: string]: string } = {};
  private ctx: CanvasRenderingContext2D;

  constructor(
    private cv: HTMLCanvasElement,
    public s: Series[],
    private ax: [string, string],
    private fmtT: (t: number) => string,
    private onDraw?: () => void,
  ) {
    this.v = s.map(() => new Float64Array(CAP));
    this.ctx = cv.getContext("2d")!;
    new ResizeObserver(() => this.resize()).observe(cv);
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => this.theme());
    cv.addEventListener("pointermove", (e) => ((this.hx = e.offsetX), this.kick()));
    cv.addEventListener("pointerleave", () => ((this.hx = -1), this.kick()));
    this.theme();
  }

  theme() {
    const cs = getComputedStyle(this.cv);
    for (const k of ["--c1", "--c2", "--c3", "--bd", "--mut", "--fg", "--card"]) this.cols[k] = cs.getPropertyValue(k).trim();
    this.kick();
  }

  resize() {
    const r = this.cv.getBoundingClientRect();
    this.dpr = devicePixelRatio || 1;
    this.w = r.width;
    this.h = r.height;
    this.cv.width = Math.round(r.width * this.dpr);
    this.cv.height = Math.round(r.height * this.dpr);
    this.draw();
  }

  private ix(i: number) {
    return (this.head - this.n + i + CAP) % CAP;
  }

  last(k: number) {
    return this.n ? this.v[k][this.ix(this.n - 1)] : NaN;
  }

  lastT() {
    return this.n ? this.t[this.ix(this.n - 1)] : 0;
  }

  push(t: number, vals: number[]) {
    const lt = this.lastT();
    if (this.n && t <= lt) {
      if (t > lt - 1) return; // a repeat
      this.clear(); // the device restarted: its clock went back
    }
    const d = this.n ? t - lt : 0,
      h = this.head;
    this.brk[h] = +(this.dt > 0 && d > 4 * this.dt);
    this.dt = this.n ? (this.dt ? this.dt * 0.8 + d * 0.2 : d) : 0;
    this.t[h] = t;
    vals.forEach((x, k) => (this.v[k][h] = x));
    this.head = (h + 1) % CAP;
    if (this.n < CAP) this.n++;
    if (!this.paused) this.kick();
  }

  clear() {
    this.n = this.dt = 0;
    this.kick();
  }

  pause(p: boolean) {
    this.paused = p;
    this.end = this.lastT();
    this.kick();
  }

  /** Schedules a redraw on the next animation frame (at most one per frame). */
  kick() {
    if (!this.raf) this.raf = requestAnimationFrame(() => ((this.raf = 0), this.draw()));
  }

  draw() {
    const { ctx: c, w: W, h: H, s, cols, n } = this,
      font = (px: number, wt = "") => (c.font = `${wt} ${px}px system-ui,sans-serif`);
    c.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    c.clearRect(0, 0, W, H);
    if (this.onDraw) this.onDraw();
    font(12);
    c.fillStyle = cols["--mut"];
    if (!n) {
      c.textAlign = "center";
      c.fillText("Waiting for telemetry…", W / 2, H / 2);
      return;
    }
    const end = this.paused ? this.end : this.lastT(),
      start = end - this.win;
    // visible samples [a, b): one before the window so the line enters from the edge
    let a = n,
      b = n;
    while (b > 0 && this.t[this.ix(b - 1)] > end) b--;
    a = b;
    while (a > 0 && this.t[this.ix(a - 1)] >= start) a--;
    if (a > 0) a--;
    // y ranges: axis 0 fits its data, axis 1 is 0..100 (%) unless the data is larger
    const lo = [Infinity, 0],
      hi = [-Infinity, 100];
    for (let i = a; i < b; i++) {
      const j = this.ix(i);
      s.forEach((se, k) => {
        const x = this.v[k][j];
        if (se.on && isFinite(x)) (lo[se.axis] = Math.min(lo[se.axis], x)), (hi[se.axis] = Math.max(hi[se.axis], x));
      });
    }
    if (lo[0] > hi[0]) (lo[0] = 0), (hi[0] = 1);
    const r = [range(lo[0], hi[0]), range(0, hi[1])],
      // the 5 labels of each axis ("" when no shown series uses it) set the margins
      labs = r.map((q, ax) => [0, 1, 2, 3, 4].map((g) => (s.some((se) => se.on && se.axis == ax) ? +(q[1] - ((q[1] - q[0]) * g) / 4).toFixed(2) + this.ax[ax] : ""))),
      [L, R] = labs.map((ls) => Math.max(24, ...ls.map((x) => c.measureText(x).width + 14))),
      pw = W - L - R,
      ph = H - T - B,
      X = (t: number) => L + ((t - start) / this.win) * pw,
      Y = (x: number, ax: number) => T + ph - ((x - r[ax][0]) / (r[ax][1] - r[ax][0])) * ph;
    if (pw < 20 || ph < 20) return;
    // grid + y labels
    c.lineWidth = 1;
    c.strokeStyle = cols["--bd"];
    c.textBaseline = "middle";
    for (let g = 0; g <= 4; g++) {
      const y = Math.round(T + (ph * g) / 4) + 0.5;
      c.beginPath();
      c.moveTo(L, y);
      c.lineTo(L + pw, y);
      c.stroke();
      c.textAlign = "right";
      c.fillText(labs[0][g], L - 8, y);
      c.textAlign = "left";
      c.fillText(labs[1][g], L + pw + 8, y);
    }
    // time ticks, relative to the view's end
    font(12);
    c.textAlign = "center";
    c.textBaseline = "top";
    const st = [1, 2, 5, 10, 15, 30, 60].find((x) => this.win / x <= Math.min(6, pw / 60)) || 60;
    for (let k = 0; k * st <= this.win + 1e-9; k++) {
      const x = L + pw - (k * st * pw) / this.win,
        sec = k * st;
      c.fillText(!k ? (this.paused ? "0 s" : "now") : "−" + (sec % 60 ? sec + " s" : sec / 60 + " min"), Math.min(Math.max(x, L + 14), L + pw - 14), T + ph + 8);
    }
    // series: a soft fill under each line, then the line
    c.save();
    c.beginPath();
    c.rect(L, T - 2, pw, ph + 4);
    c.clip();
    c.lineJoin = c.lineCap = "round";
    s.forEach((se, k) => {
      if (!se.on) return;
      const line = new Path2D(),
        fill = new Path2D(),
        col = cols[se.color],
        v = this.v[k],
        close = (x: number) => (fill.lineTo(x, T + ph), fill.closePath());
      let px = 0,
        pen = false;
      for (let i = a; i < b; i++) {
        const j = this.ix(i),
          x = X(this.t[j]),
          y = Y(v[j], se.axis);
        if (!isFinite(y) || this.brk[j]) {
          if (pen) close(px);
          pen = false;
          if (!isFinite(y)) continue;
        }
        if (!pen) line.moveTo(x, y), fill.moveTo(x, T + ph), fill.lineTo(x, y), (pen = true);
        else line.lineTo(x, y), fill.lineTo(x, y);
        px = x;
      }
      if (pen) close(px);
      const gr = c.createLinearGradient(0, T, 0, T + ph);
      gr.addColorStop(0, col + "38");
      gr.addColorStop(1, col + "00");
      c.fillStyle = gr;
      if (!se.axis) c.fill(fill); // only under the left-axis series: stacked fills turn to mud
      c.strokeStyle = col;
      c.lineWidth = 2;
      c.stroke(line);
    });
    c.restore();
    // hover: nearest sample, a guide line, dots and a tooltip
    if (this.hx >= L && this.hx <= L + pw && b > a) {
      const tt = start + ((this.hx - L) / pw) * this.win;
      let best = -1,
        bd = Infinity;
      for (let i = a; i < b; i++) {
        const d = Math.abs(this.t[this.ix(i)] - tt);
        if (d < bd) (bd = d), (best = this.ix(i));
      }
      const x = X(this.t[best]);
      if (x < L) return;
      c.strokeStyle = cols["--mut"];
      c.setLineDash([3, 3]);
      c.beginPath();
      c.moveTo(x, T);
      c.lineTo(x, T + ph);
      c.stroke();
      c.setLineDash([]);
      const rows: [string, string][] = [["", this.fmtT(this.t[best])]];
      s.forEach((se, k) => {
        const val = this.v[k][best];
        if (!se.on || !isFinite(val)) return;
        rows.push([cols[se.color], se.name + "  " + val.toFixed(se.dec) + " " + se.unit]);
        c.fillStyle = cols[se.color];
        c.beginPath();
        c.arc(x, Y(val, se.axis), 3.5, 0, 7);
        c.fill();
      });
      font(12);
      const tw = Math.max(...rows.map((q) => c.measureText(q[1]).width)) + 30,
        th = rows.length * 18 + 10,
        bx = x + 12 + tw > L + pw ? x - 12 - tw : x + 12;
      c.fillStyle = cols["--card"];
      c.strokeStyle = cols["--bd"];
      c.beginPath();
      c.roundRect(bx, T + 4, tw, th, 6);
      c.fill();
      c.stroke();
      c.textAlign = "left";
      c.textBaseline = "middle";
      rows.forEach(([col, txt], i) => {
        const y = T + 18 + i * 18;
        c.fillStyle = col || cols["--mut"];
        if (col) c.fillRect(bx + 10, y - 4, 8, 8);
        c.fillStyle = i ? cols["--fg"] : cols["--mut"];
        c.fillText(txt, bx + (i ? 24 : 10), y);
      });
    }
  }
}
