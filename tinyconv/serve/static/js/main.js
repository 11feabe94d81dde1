// The playground page: draw -> POST /api/predict (throttled) -> show the answer.

import { bytesOf, getModel, predict } from "./api.js";
import { Pad } from "./pad.js";
import { TrainingView } from "./training.js";
import { Bars, clearCanvas, FeatureMaps, paintGrey, showModel } from "./view.js";

const $ = (id) => document.getElementById(id);
const MIN_INTERVAL_MS = 60; // at most ~15 predictions a second while drawing

const bars = new Bars($("bars"));
const maps = new FeatureMaps($("maps"));
let model = null;
let layout = ""; // classes and layer shapes of the model shown
let inFlight = false;
let dirty = false;
let lastSent = 0;
let timer = 0;

function showEmpty(message) {
  $("status").textContent = message;
  $("predicted").textContent = "–";
  $("predicted").classList.add("none");
  $("timing").textContent = "";
  bars.show(null, -1);
  maps.blank();
  clearCanvas($("seen"));
}

function showAnswer(answer) {
  if (answer.empty) {
    showEmpty("The image is empty: draw a digit.");
    return;
  }
  $("status").textContent = `The model reads a ${answer.label} (${(100 * answer.probabilities[answer.class]).toFixed(1)}%).`;
  $("predicted").textContent = answer.label;
  $("predicted").classList.remove("none");
  bars.show(answer.probabilities, answer.class);
  const [h, w] = answer.input.shape;
  paintGrey($("seen"), bytesOf(answer.input.data), h, w);
  maps.show(answer.maps);
  $("timing").textContent = `server: ${answer.time_ms} ms`;
}

async function send() {
  if (pad.isEmpty()) {
    showEmpty("The pad is empty: draw a digit.");
    return;
  }
  inFlight = true;
  dirty = false;
  lastSent = performance.now();
  try {
    showAnswer(await predict(pad.grey()));
  } catch (err) {
    $("status").textContent = `Error: ${err.message}`;
  } finally {
    inFlight = false;
  }
  if (dirty) schedule();
}

// Throttle: one request at a time, no closer than MIN_INTERVAL_MS; the last drawing always wins.
function schedule() {
  dirty = true;
  if (inFlight || timer) return;
  const wait = Math.max(0, lastSent + MIN_INTERVAL_MS - performance.now());
  timer = setTimeout(() => {
    timer = 0;
    if (dirty) send();
  }, wait);
}

const pad = new Pad($("pad"), schedule);
$("clear").addEventListener("click", () => pad.clear());
$("pen").addEventListener("input", (e) => {
  pad.penWidth = Number(e.target.value);
});

async function loadModel() {
  try {
    model = await getModel();
  } catch (err) {
    $("model-line").textContent = `Cannot load the model: ${err.message}`;
    return;
  }
  showModel(model, $("layers"), $("summary"), $("model-line"));
  const shape = JSON.stringify([model.classes, model.layers.map((l) => [l.name, l.output_shape])]);
  if (shape !== layout) {
    layout = shape;
    bars.setClasses(model.classes);
    maps.reset();
  }
  if (pad.isEmpty()) showEmpty("Draw a digit on the pad.");
  else schedule();
}

function selectTab(name) {
  for (const tab of ["play", "train"]) {
    $(`tab-${tab}`).setAttribute("aria-selected", String(tab === name));
    $(tab).hidden = tab !== name;
  }
  if (name === "train") training.redraw();
}
$("tab-play").addEventListener("click", () => selectTab("play"));
$("tab-train").addEventListener("click", () => selectTab("train"));

const training = new TrainingView(
  {
    status: $("train-status"),
    lossCanvas: $("loss-plot"),
    accCanvas: $("acc-plot"),
    table: document.querySelector("#epochs tbody"),
    dot: $("live-dot"),
  },
  {
    onLive: () => {
      if (pad.isEmpty()) selectTab("train");
    },
    onModel: () => loadModel(),
  },
);

document.body.dataset.ready = "false";
loadModel().then(() => {
  // Only a server that runs (or ran) a training has events to stream.
  if (model && model.live) training.connect();
  else training.idle();
  document.body.dataset.ready = "true";
});
