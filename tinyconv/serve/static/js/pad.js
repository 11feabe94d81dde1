// The drawing pad: pointer events (mouse, pen and touch alike), round strokes, ink in alpha.
//
// The canvas stays transparent where nothing is drawn (its dark background is CSS), so the
// alpha channel is the ink: 0 = paper, 255 = full ink. That is what ``grey`` sends.

export class Pad {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {() => void} onChange called after every stroke segment and on clear
   */
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { willReadFrequently: true });
    this.onChange = onChange;
    this.penWidth = 22;
    this.last = null;
    this.inked = false;
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
      canvas.addEventListener(type, () => this.up());
    }
  }

  point(e) {
    const box = this.canvas.getBoundingClientRect();
    return {
      x: ((e.clientX - box.left) * this.canvas.width) / box.width,
      y: ((e.clientY - box.top) * this.canvas.height) / box.height,
    };
  }

  down(e) {
    if (e.button !== 0 && e.pointerType === "mouse") return;
    e.preventDefault();
    try {
      this.canvas.setPointerCapture(e.pointerId); // keep the stroke when it leaves the pad
    } catch {
      // a pointer the browser no longer tracks: draw without capture
    }
    this.last = this.point(e);
    this.segment(this.last, this.last);
  }

  move(e) {
    if (!this.last) return;
    e.preventDefault();
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) {
      const p = this.point(ev);
      this.segment(this.last, p);
      this.last = p;
    }
  }

  up() {
    this.last = null;
  }

  segment(a, b) {
    const ctx = this.ctx;
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = this.penWidth;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(a.x, a.y);
    ctx.lineTo(b.x + 0.01, b.y); // a zero-length line would draw no dot
    ctx.stroke();
    this.inked = true;
    this.onChange();
  }

  clear() {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.inked = false;
    this.onChange();
  }

  isEmpty() {
    return !this.inked;
  }

  /**
   * The ink as rows of grey levels at size x size (area-averaged by the browser).
   * @param {number} size
   * @returns {number[][]}
   */
  grey(size = 140) {
    const small = document.createElement("canvas");
    small.width = small.height = size;
    const ctx = small.getContext("2d", { willReadFrequently: true });
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(this.canvas, 0, 0, size, size);
    const rgba = ctx.getImageData(0, 0, size, size).data;
    const rows = [];
    for (let y = 0; y < size; y++) {
      const row = new Array(size);
      for (let x = 0; x < size; x++) row[x] = rgba[(y * size + x) * 4 + 3];
      rows.push(row);
    }
    return rows;
  }
}
