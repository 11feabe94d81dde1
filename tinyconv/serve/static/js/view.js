// Drawing the answers: the image the model saw, the probability bars, the feature maps and
// the model's summary. Elements are made once and then only repainted, so nothing flickers
// while the user draws.

import { bytesOf } from "./api.js";

// A 256-entry colour map interpolating viridis' anchor colours (dark blue -> yellow).
const ANCHORS = [
  [68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [110, 206, 88], [181, 222, 43], [253, 231, 37],
];
const LUT = new Uint8ClampedArray(256 * 3);
for (let i = 0; i < 256; i++) {
  const t = (i / 255) * (ANCHORS.length - 1);
  const k = Math.min(Math.floor(t), ANCHORS.length - 2);
  const f = t - k;
  for (let c = 0; c < 3; c++) LUT[i * 3 + c] = ANCHORS[k][c] * (1 - f) + ANCHORS[k + 1][c] * f;
}

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

/** Paint uint8 grey bytes (h x w) into a canvas of that size. */
export function paintGrey(canvas, bytes, h, w) {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    img.data[i * 4] = img.data[i * 4 + 1] = img.data[i * 4 + 2] = bytes[i];
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

export function clearCanvas(canvas) {
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
}

export class Bars {
  constructor(list) {
    this.list = list;
    this.rows = [];
  }

  setClasses(classes) {
    this.list.replaceChildren();
    this.rows = classes.map((name) => {
      const li = el("li");
      const label = el("span", { class: "label" }, name);
      const track = el("span", { class: "track" });
      const fill = el("span", { class: "fill" });
      const pct = el("span", { class: "pct" }, "");
      track.append(fill);
      li.append(label, track, pct);
      this.list.append(li);
      return { li, fill, pct };
    });
  }

  show(probabilities, top) {
    this.rows.forEach((row, i) => {
      const p = probabilities ? probabilities[i] : 0;
      row.fill.style.width = `${(100 * p).toFixed(1)}%`;
      row.pct.textContent = probabilities ? `${(100 * p).toFixed(1)}%` : "";
      row.li.classList.toggle("top", i === top);
    });
  }
}

export class FeatureMaps {
  constructor(container) {
    this.container = container;
    this.layers = new Map(); // name -> {key, canvases}
  }

  reset() {
    this.container.replaceChildren();
    this.layers.clear();
  }

  layerView(m) {
    const key = `${m.type}:${m.shape.join("x")}:${m.channels}`;
    let view = this.layers.get(m.name);
    if (view && view.key === key) return view;
    const section = el("section", { class: "layer", "data-layer": m.name });
    const [C, H, W] = m.shape;
    section.append(el("h3", {}, `${m.name} · ${m.type} · ${C}×${H}×${W}`));
    const grid = el("div", { class: "grid" });
    const scale = Math.max(1, Math.round(48 / Math.max(H, W)));
    const canvases = [];
    for (let c = 0; c < m.channels; c++) {
      const canvas = el("canvas", { width: W, height: H, title: `${m.name}, channel ${c}` });
      canvas.style.width = `${W * scale}px`;
      canvas.style.height = `${H * scale}px`;
      canvases.push(canvas);
      grid.append(canvas);
    }
    section.append(grid);
    if (m.omitted) section.append(el("p", { class: "more" }, "too large to show"));
    else if (m.channels < C) {
      section.append(el("p", { class: "more" }, `${C - m.channels} more channels not shown`));
    }
    if (view) view.section.replaceWith(section);
    else this.container.append(section);
    view = { key, section, canvases };
    this.layers.set(m.name, view);
    return view;
  }

  show(maps) {
    for (const m of maps) {
      const view = this.layerView(m);
      if (m.omitted) continue;
      const bytes = bytesOf(m.data);
      const [, H, W] = m.shape;
      view.canvases.forEach((canvas, c) => {
        const ctx = canvas.getContext("2d");
        const img = ctx.createImageData(W, H);
        const base = c * H * W;
        for (let i = 0; i < H * W; i++) {
          const v = bytes[base + i] * 3;
          img.data[i * 4] = LUT[v];
          img.data[i * 4 + 1] = LUT[v + 1];
          img.data[i * 4 + 2] = LUT[v + 2];
          img.data[i * 4 + 3] = 255;
        }
        ctx.putImageData(img, 0, 0);
      });
    }
  }

  blank() {
    for (const view of this.layers.values()) view.canvases.forEach(clearCanvas);
  }
}

/** The layer list and the summary table of GET /api/model. */
export function showModel(model, list, pre, line) {
  const meta = model.metadata || {};
  const acc = typeof meta.test_accuracy === "number"
    ? `, test accuracy ${(100 * meta.test_accuracy).toFixed(2)}%` : "";
  const params = model.total_params.toLocaleString("en");
  line.textContent = `${model.name} (${params} parameters${acc}) · ${model.source}`;
  list.replaceChildren();
  for (const layer of model.layers) {
    const li = el("li", { class: layer.maps ? "mapped" : "" });
    li.append(el("span", {}, `${layer.name} (${layer.type})`), el("code", {}, layer.output_shape.join("×")));
    li.title = layer.description;
    list.append(li);
  }
  pre.textContent = model.summary;
}
