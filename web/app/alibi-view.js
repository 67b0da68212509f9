// ALiBi pictures: per-head bias curves from the slopes (SVG) and a heatmap of
// the newest token's attention over the context, one row per head (canvas).

const svgNS = 'http://www.w3.org/2000/svg';

/** headColor gives head h of n a distinct hue (steep heads warm, gentle heads cool). */
export function headColor(h, n, dark = false) {
  const hue = Math.round(10 + (250 * h) / Math.max(1, n - 1));
  return `hsl(${hue} 80% ${dark ? 64 : 44}%)`;
}

const darkQuery = globalThis.matchMedia?.('(prefers-color-scheme: dark)');
const isDark = () => Boolean(darkQuery?.matches);

function el(name, attrs = {}) {
  const e = document.createElementNS(svgNS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/**
 * drawBiasCurves draws bias(d) = -slope·d for d in [0, maxDistance] for
 * every head into container (replacing its content) and fills the legend.
 */
export function drawBiasCurves(container, legend, slopes, maxDistance = 64) {
  const W = 360, H = 220, L = 40, R = 10, T = 10, B = 34;
  const pw = W - L - R, ph = H - T - B;
  // The y range covers the gentlest half of the heads fully; steeper heads leave through the floor.
  const sorted = [...slopes].sort((a, b) => a - b);
  const ref = sorted[Math.floor((sorted.length - 1) / 2)] || 1;
  const yMin = -niceCeil(ref * maxDistance);
  const x = (d) => L + (d / maxDistance) * pw;
  const y = (b) => T + (b / yMin) * ph;

  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `ALiBi bias by distance for ${slopes.length} heads` });
  const clipId = `bias-clip-${Math.random().toString(36).slice(2)}`;
  const defs = el('defs');
  const clip = el('clipPath', { id: clipId });
  clip.append(el('rect', { x: L, y: T, width: pw, height: ph }));
  defs.append(clip);
  svg.append(defs);

  for (let i = 0; i <= 4; i++) {
    const b = (yMin * i) / 4;
    svg.append(el('line', { class: i === 0 ? 'axis' : 'grid', x1: L, x2: L + pw, y1: y(b), y2: y(b) }));
    const t = el('text', { x: L - 6, y: y(b) + 3, 'text-anchor': 'end' });
    t.textContent = b === 0 ? '0' : String(Number(b.toPrecision(3)));
    svg.append(t);
  }
  for (let i = 0; i <= 4; i++) {
    const d = (maxDistance * i) / 4;
    svg.append(el('line', { class: i === 0 ? 'axis' : 'grid', x1: x(d), x2: x(d), y1: T, y2: T + ph }));
    const t = el('text', { x: x(d), y: T + ph + 14, 'text-anchor': 'middle' });
    t.textContent = String(Math.round(d));
    svg.append(t);
  }
  const xl = el('text', { x: L + pw / 2, y: H - 4, 'text-anchor': 'middle' });
  xl.textContent = 'distance to the query (tokens)';
  const yl = el('text', { x: 10, y: T + ph / 2, 'text-anchor': 'middle', transform: `rotate(-90 10 ${T + ph / 2})` });
  yl.textContent = 'bias';
  svg.append(xl, yl);

  const g = el('g', { 'clip-path': `url(#${clipId})` });
  slopes.forEach((m, h) => {
    // A straight line: two points suffice, clipped to the plot.
    g.append(el('polyline', {
      class: 'curve', stroke: headColor(h, slopes.length, isDark()),
      points: `${x(0)},${y(0)} ${x(maxDistance)},${y(-m * maxDistance)}`,
    }));
  });
  svg.append(g);
  container.replaceChildren(svg);

  legend.replaceChildren();
  slopes.forEach((m, h) => {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = headColor(h, slopes.length, isDark()); // CSSOM, allowed by style-src 'self'
    li.append(sw, document.createTextNode(`h${h} m=${formatSlope(m)}`));
    legend.append(li);
  });
}

/** niceCeil rounds x up to 1, 2, 4 or 5 times a power of ten (a round axis end). */
export function niceCeil(x) {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 4, 5, 10]) if (m * p >= x - 1e-12) return m * p;
  return 10 * p;
}

export function formatSlope(m) {
  if (m >= 0.01) return m.toFixed(3).replace(/0+$/, '').replace(/\.$/, '');
  // Slopes are powers of two: 2^-k reads better than 0.00390625.
  const k = -Math.log2(m);
  return Number.isInteger(Math.round(k * 1000) / 1000) ? `2^-${Math.round(k)}` : m.toExponential(2);
}

// Palette stops for attention weights, 0 -> 1 (per-head normalized).
const stops = [
  [0.0, [238, 240, 245]],
  [0.35, [67, 56, 202]],
  [0.75, [245, 158, 11]],
  [1.0, [254, 240, 138]],
];
const darkZero = [30, 34, 43];

export function heatColor(v, dark) {
  v = Math.max(0, Math.min(1, v));
  const s = stops.map(([p, c], i) => [p, i === 0 && dark ? darkZero : c]);
  for (let i = 1; i < s.length; i++) {
    if (v <= s[i][0]) {
      const [p0, c0] = s[i - 1], [p1, c1] = s[i];
      const t = (v - p0) / (p1 - p0);
      return c0.map((a, j) => Math.round(a + (c1[j] - a) * t));
    }
  }
  return s[s.length - 1][1];
}

/** Heatmap draws attention rows (Float32Array per head) on a canvas. */
export class Heatmap {
  constructor(canvas, infoEl, labelFor) {
    this.canvas = canvas;
    this.info = infoEl;
    this.labelFor = labelFor; // position -> token label
    this.rows = null;
    this.cursor = null; // { h, p }
    this.dark = matchMedia('(prefers-color-scheme: dark)');
    this.dark.addEventListener?.('change', () => this.draw());
    canvas.addEventListener('mousemove', (e) => this.onMouse(e));
    canvas.addEventListener('mouseleave', () => { this.cursor = null; this.draw(); });
    canvas.addEventListener('keydown', (e) => this.onKey(e));
    if (globalThis.ResizeObserver) new ResizeObserver(() => this.draw()).observe(canvas);
    this.clear();
  }

  clear(message) {
    this.rows = null;
    this.cursor = null;
    const ctx = this.canvas.getContext('2d');
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (message) this.info.textContent = message;
  }

  geometry() {
    const heads = this.rows.length, n = this.rows[0]?.length ?? 0;
    const width = Math.max(120, this.canvas.clientWidth || 480); // CSS px
    const left = 28, top = 4, right = 4, bottom = 18;
    const rowH = Math.max(8, Math.min(26, Math.floor(208 / heads)));
    const height = top + bottom + rowH * heads;
    return { heads, n, width, height, left, top, right, bottom, rowH, cw: (width - left - right) / Math.max(1, n) };
  }

  /** update takes the attention item of one step: one Float32Array per head. */
  update(rows, promptLength = 0) {
    if (!rows || !rows.length) return;
    this.rows = rows;
    this.promptLength = promptLength;
    this.draw();
    if (this.cursor) this.describe();
    else this.info.textContent = `${rows.length} heads × ${rows[0].length} positions · hover or use the arrow keys to read values`;
  }

  /** draw paints in CSS pixels on a backing store sized for the device pixel ratio. */
  draw() {
    if (!this.rows) return;
    const g = this.geometry();
    const c = this.canvas;
    const dpr = Math.max(1, Math.min(3, globalThis.devicePixelRatio || 1));
    const bw = Math.round(g.width * dpr), bh = Math.round(g.height * dpr);
    if (c.width !== bw) c.width = bw;
    if (c.height !== bh) c.height = bh;
    const ctx = c.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const dark = this.dark.matches;
    ctx.clearRect(0, 0, g.width, g.height);
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    for (let h = 0; h < g.heads; h++) {
      const row = this.rows[h];
      let max = 0;
      for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
      const y0 = g.top + h * g.rowH;
      for (let p = 0; p < row.length; p++) {
        const [r, gg, b] = heatColor(max > 0 ? row[p] / max : 0, dark);
        ctx.fillStyle = `rgb(${r},${gg},${b})`;
        const x0 = g.left + p * g.cw;
        // Snap to device pixels so neighbouring cells leave no seams.
        const xa = Math.floor(x0 * dpr) / dpr, xb = Math.ceil((x0 + g.cw) * dpr) / dpr;
        ctx.fillRect(xa, y0, Math.max(1 / dpr, xb - xa), g.rowH - 1);
      }
      ctx.fillStyle = headColor(h, g.heads, dark); // the same colour as the head's bias line
      ctx.fillText(`h${h}`, 4, y0 + g.rowH / 2);
    }
    // Position axis, and where the prompt ends and generated text begins.
    const axisY = g.top + g.heads * g.rowH + 10;
    ctx.fillStyle = dark ? '#9ba2b2' : '#5b6170';
    ctx.textAlign = 'left';
    ctx.fillText('0', g.left, axisY);
    ctx.textAlign = 'right';
    ctx.fillText(String(g.n - 1), g.width - g.right, axisY);
    ctx.textAlign = 'center';
    ctx.fillText('position in the context →', g.left + (g.width - g.left - g.right) / 2, axisY);
    ctx.textAlign = 'left';
    if (this.promptLength > 0 && this.promptLength < g.n) {
      const x = g.left + this.promptLength * g.cw;
      ctx.strokeStyle = dark ? '#e7e9ee' : '#1a1d24';
      ctx.lineWidth = 1;
      ctx.setLineDash([3, 3]);
      ctx.beginPath();
      ctx.moveTo(x, g.top);
      ctx.lineTo(x, g.top + g.heads * g.rowH);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    if (this.cursor) {
      const { h, p } = this.cursor;
      ctx.strokeStyle = dark ? '#ffffff' : '#111111';
      ctx.lineWidth = 2;
      ctx.strokeRect(g.left + p * g.cw, g.top + h * g.rowH, Math.max(2, g.cw), g.rowH - 1);
    }
  }

  onMouse(e) {
    if (!this.rows) return;
    const g = this.geometry();
    const rect = this.canvas.getBoundingClientRect();
    const px = e.clientX - rect.left, py = e.clientY - rect.top;
    const p = Math.floor((px - g.left) / g.cw);
    const h = Math.floor((py - g.top) / g.rowH);
    if (p < 0 || p >= g.n || h < 0 || h >= g.heads) return;
    this.cursor = { h, p };
    this.draw();
    this.describe();
  }

  onKey(e) {
    if (!this.rows) return;
    const g = this.geometry();
    const cur = this.cursor ?? { h: 0, p: g.n - 1 };
    const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
    if (!(e.key in moves)) return;
    e.preventDefault();
    const [dh, dp] = moves[e.key];
    this.cursor = { h: Math.max(0, Math.min(g.heads - 1, cur.h + dh)), p: Math.max(0, Math.min(g.n - 1, cur.p + dp)) };
    this.draw();
    this.describe();
  }

  describe() {
    const { h, p } = this.cursor;
    const v = this.rows[h]?.[p];
    if (v === undefined) return;
    const label = this.labelFor(p);
    this.info.textContent = `head ${h} · position ${p}${label ? ` “${label}”` : ''} · weight ${v.toFixed(3)}`;
  }
}
