// A small line plot on a canvas: axes with round ticks, several series, a legend.
// Written for the live training curves (no plotting library needed).

function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

function label(v, step) {
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  return v.toFixed(Math.min(digits, 4));
}

export class LinePlot {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{yMin?: number, yMax?: number, xLabel?: string}} options fixed y range if given
   */
  constructor(canvas, options = {}) {
    this.canvas = canvas;
    this.options = options;
    this.series = [];
    this.pending = false;
  }

  /** Add a series: {name, color, width?, dots?}; returns its point array to push [x, y] to. */
  add(spec) {
    const s = { width: 1.5, dots: false, ...spec, points: [] };
    this.series.push(s);
    return s.points;
  }

  clear() {
    for (const s of this.series) s.points.length = 0;
    this.draw();
  }

  /** Redraw at the next animation frame (many points may arrive between two frames). */
  update() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  draw() {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const cssW = canvas.clientWidth || canvas.width;
    const cssH = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(cssW * ratio)) {
      canvas.width = Math.round(cssW * ratio);
      canvas.height = Math.round(cssH * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    const pad = { left: 48, right: 12, top: 22, bottom: 28 };
    const w = cssW - pad.left - pad.right;
    const h = cssH - pad.top - pad.bottom;

    const all = this.series.flatMap((s) => s.points);
    let xMax = 1;
    let yMin = this.options.yMin;
    let yMax = this.options.yMax;
    if (all.length) {
      xMax = Math.max(1, ...all.map((p) => p[0]));
      const ys = all.map((p) => p[1]).filter(Number.isFinite);
      if (yMin === undefined) yMin = Math.min(0, ...ys);
      if (yMax === undefined) yMax = Math.max(...ys) * 1.05 || 1;
    }
    if (yMin === undefined) yMin = 0;
    if (yMax === undefined || yMax <= yMin) yMax = yMin + 1;
    const X = (x) => pad.left + (x / xMax) * w;
    const Y = (y) => pad.top + h - ((y - yMin) / (yMax - yMin)) * h;

    ctx.font = "11px system-ui, sans-serif";
    ctx.strokeStyle = "#e3e6ec";
    ctx.fillStyle = "#667085";
    ctx.lineWidth = 1;
    const yStep = niceStep(yMax - yMin, 5);
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let v = Math.ceil(yMin / yStep) * yStep; v <= yMax + 1e-12; v += yStep) {
      ctx.beginPath();
      ctx.moveTo(pad.left, Y(v));
      ctx.lineTo(pad.left + w, Y(v));
      ctx.stroke();
      ctx.fillText(label(v, yStep), pad.left - 6, Y(v));
    }
    const xStep = Math.max(1, niceStep(xMax, 6));
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (let v = 0; v <= xMax; v += xStep) ctx.fillText(String(Math.round(v)), X(v), pad.top + h + 6);
    ctx.fillText(this.options.xLabel || "step", pad.left + w / 2, pad.top + h + 16);

    let legendX = pad.left;
    for (const s of this.series) {
      ctx.strokeStyle = ctx.fillStyle = s.color;
      ctx.lineWidth = s.width;
      if (s.dots) {
        for (const [x, y] of s.points) {
          if (!Number.isFinite(y)) continue;
          ctx.beginPath();
          ctx.arc(X(x), Y(y), 3.5, 0, 2 * Math.PI);
          ctx.fill();
        }
      } else {
        ctx.beginPath();
        let started = false;
        for (const [x, y] of s.points) {
          if (!Number.isFinite(y)) continue;
          if (started) ctx.lineTo(X(x), Y(y));
          else ctx.moveTo(X(x), Y(y));
          started = true;
        }
        ctx.stroke();
      }
      ctx.fillRect(legendX, 6, 10, 10);
      ctx.fillStyle = "#1d2330";
      ctx.textAlign = "left";
      ctx.fillText(s.name, legendX + 14, 5);
      legendX += 24 + ctx.measureText(s.name).width;
    }
  }
}
