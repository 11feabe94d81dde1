// The live training view: Server-Sent Events from GET /api/events drawn as curves.
//
// Events: hello {live}, begin {epochs}, step {step, epoch, loss, acc}, epoch {epoch, step,
// loss, acc, val_loss, val_acc, time}, model {version} (new weights to predict with), end.

import { LinePlot } from "./plot.js";

const SMOOTH = 0.9; // exponential moving average of the noisy per-batch values

export class TrainingView {
  /**
   * @param {object} nodes {status, lossCanvas, accCanvas, table, dot}
   * @param {{onLive: () => void, onModel: (data: object) => void}} hooks
   */
  constructor(nodes, hooks) {
    this.nodes = nodes;
    this.hooks = hooks;
    this.loss = new LinePlot(nodes.lossCanvas);
    this.lossRaw = this.loss.add({ name: "batch loss", color: "#b8c7ea", width: 1 });
    this.lossAvg = this.loss.add({ name: "smoothed", color: "#2f6fed", width: 2 });
    this.lossVal = this.loss.add({ name: "val loss", color: "#e5484d", dots: true });
    this.acc = new LinePlot(nodes.accCanvas, { yMin: 0, yMax: 1 });
    this.accAvg = this.acc.add({ name: "batch acc (smoothed)", color: "#2f6fed", width: 2 });
    this.accVal = this.acc.add({ name: "val acc", color: "#e5484d", dots: true });
    this.emaLoss = null;
    this.emaAcc = null;
    this.lastEventId = 0;
  }

  connect() {
    const source = new EventSource("/api/events");
    this.source = source;
    source.addEventListener("hello", (e) => this.hello(JSON.parse(e.data)));
    source.addEventListener("begin", (e) => this.begin(JSON.parse(e.data)));
    source.addEventListener("step", (e) => this.step(JSON.parse(e.data), e));
    source.addEventListener("epoch", (e) => this.epoch(JSON.parse(e.data), e));
    source.addEventListener("model", (e) => this.fresh(e) && this.hooks.onModel(JSON.parse(e.data)));
    source.addEventListener("end", (e) => this.end(JSON.parse(e.data)));
    source.onerror = () => {
      if (this.live) this.nodes.status.textContent = "Connection to the server lost; retrying…";
    };
  }

  // After a reconnect the server replays every event: skip the ones already drawn.
  fresh(e) {
    const id = Number(e.lastEventId || 0);
    if (id && id <= this.lastEventId) return false;
    if (id) this.lastEventId = id;
    return true;
  }

  idle() {
    this.nodes.status.textContent =
      "No training runs in this server. Start one with `tinyconv train --serve` to watch a model learn here.";
  }

  hello(data) {
    this.live = data.live;
    if (!data.live) {
      this.idle();
      return;
    }
    this.nodes.dot.hidden = false;
    this.nodes.status.textContent = "Training…";
    this.hooks.onLive();
  }

  begin(data) {
    this.nodes.status.textContent = `Training for ${data.epochs} epoch(s)…`;
  }

  step(d, e) {
    if (!this.fresh(e)) return;
    this.emaLoss = this.emaLoss === null ? d.loss : SMOOTH * this.emaLoss + (1 - SMOOTH) * d.loss;
    this.lossRaw.push([d.step, d.loss]);
    this.lossAvg.push([d.step, this.emaLoss]);
    if (d.acc !== null && d.acc !== undefined) {
      this.emaAcc = this.emaAcc === null ? d.acc : SMOOTH * this.emaAcc + (1 - SMOOTH) * d.acc;
      this.accAvg.push([d.step, this.emaAcc]);
    }
    const acc = this.emaAcc === null ? "" : `, accuracy ≈ ${(100 * this.emaAcc).toFixed(1)}%`;
    this.nodes.status.textContent = `Epoch ${d.epoch}, step ${d.step}: loss ${d.loss.toFixed(4)}${acc}`;
    this.loss.update();
    this.acc.update();
  }

  epoch(d, e) {
    if (!this.fresh(e)) return;
    if (typeof d.val_loss === "number") this.lossVal.push([d.step, d.val_loss]);
    if (typeof d.val_acc === "number") this.accVal.push([d.step, d.val_acc]);
    const fmt = (v, pct) => (typeof v !== "number" ? "–" : pct ? `${(100 * v).toFixed(2)}%` : v.toFixed(4));
    const row = document.createElement("tr");
    for (const text of [String(d.epoch), fmt(d.loss), fmt(d.acc, true), fmt(d.val_loss),
      fmt(d.val_acc, true), typeof d.time === "number" ? `${d.time.toFixed(1)} s` : "–"]) {
      const td = document.createElement("td");
      td.textContent = text;
      row.append(td);
    }
    this.nodes.table.append(row);
    this.loss.update();
    this.acc.update();
  }

  end(d) {
    this.nodes.dot.hidden = true;
    const why = d.stopped_reason ? ` (${d.stopped_reason})` : "";
    this.nodes.status.textContent = `Training finished after ${d.step} steps${why}.`;
  }

  redraw() {
    this.loss.draw();
    this.acc.draw();
  }
}
