// The training widget: the kernel trains (play, pause, step, reset); this draws the run's
// snapshot (model "state"): loss and accuracy curves, each network's decision boundary and health.

const NET_COLORS = ["#2563eb", "#ea580c"];
let charts = 0; // drawPlot names its clip path after the svg's id: one id per chart

function node(tag, className, text) {
  const out = document.createElement(tag);
  if (className) out.className = className;
  if (text !== undefined) out.textContent = text;
  return out;
}

function chart() {
  const svg = svgElement("svg", { viewBox: "0 0 420 220", class: "tga-plot" });
  svg.id = `tga-chart-${(charts += 1)}`;
  return svg;
}

function boundaryFigure(state, net) {
  const figure = node("figure", "tga-boundary");
  const canvas = node("canvas");
  const n = net.boundary.size;
  canvas.width = canvas.height = n;
  const context = canvas.getContext("2d");
  const image = context.createImageData(n, n);
  net.boundary.percent.forEach((p, k) => {
    const t = p / 100; // P(class 1): red (0%) through white (50%) to blue (100%)
    const [r, g, b] = t < 0.5 ? [248, 113 + 284 * t, 113 + 284 * t] : [255 - 314 * (t - 0.5), 255 - 180 * (t - 0.5), 255];
    image.data.set([r, g, b, 255], 4 * k);
  });
  context.putImageData(image, 0, 0);
  const svg = svgElement("svg", { viewBox: "0 0 200 200", "aria-hidden": "true" });
  const [x0, x1, y0, y1] = state.extent;
  for (const [x, y, label] of state.points || []) {
    svgElement("circle", { cx: ((x - x0) / (x1 - x0)) * 200, cy: ((y1 - y) / (y1 - y0)) * 200, r: 3.2, class: label ? "one" : "zero" }, svg);
  }
  figure.append(canvas, svg);
  return figure;
}

function healthTable(net) {
  const table = node("table", "tga-health");
  const head = table.createTHead().insertRow();
  for (const text of ["layer", "saturated", "dead", "|∂L/∂a|"]) head.appendChild(node("th", "", text));
  const body = table.createTBody();
  for (const row of net.health) {
    const tr = body.insertRow();
    tr.insertCell().textContent = row.layer;
    tr.insertCell().textContent = row.saturated === null ? "–" : `${(row.saturated * 100).toFixed(0)}%`;
    tr.insertCell().textContent = row.dead === null ? "–" : `${(row.dead * 100).toFixed(0)}%`;
    tr.insertCell().textContent = row.grad === null ? "–" : row.grad.toExponential(1);
  }
  if (!net.health.length) body.insertRow().insertCell().textContent = "take a step to measure";
  return table;
}

function render({ model, el }) {
  const root = node("div", "tga tga-training");
  const controls = node("div", "tga-controls");
  const buttons = {};
  for (const action of ["play", "pause", "step", "reset"]) {
    buttons[action] = node("button", "", action === "step" ? "step ×10" : action);
    buttons[action].addEventListener("click", () => model.send(action === "step" ? { action, steps: 10 } : { action }));
    controls.appendChild(buttons[action]);
  }
  const status = node("span", "tga-status");
  controls.appendChild(status);
  const error = node("p", "tga-error");
  error.setAttribute("role", "alert");
  const curves = node("div", "tga-curves");
  const loss = chart();
  const accuracy = chart();
  curves.append(loss, accuracy);
  const networks = node("div", "tga-networks");
  root.append(controls, error, curves, networks);
  el.appendChild(root);

  function show() {
    const state = model.get("state");
    const settings = model.get("settings");
    const playing = model.get("playing");
    error.textContent = model.get("error");
    error.hidden = !model.get("error");
    if (!state || !state.networks) return;
    const rate = playing ? ` · ${model.get("steps_per_second").toFixed(1)} steps/s` : "";
    status.textContent = `${playing ? "training" : "paused"} · step ${state.step} of at most ${state.max_steps}${rate} · ${settings.dataset}, ${settings.depth}×${settings.width}, lr ${settings.lr}`;
    status.dataset.step = String(state.step);
    buttons.play.disabled = playing || Boolean(state.finished);
    buttons.pause.disabled = !playing;
    buttons.step.disabled = Boolean(state.finished);
    const nets = state.networks;
    const steps = Math.max(10, ...nets.map((n) => n.losses.length));
    drawPlot(loss, { x: [1, steps], y: extent(nets.map((n) => n.losses), { positive: true }), ylog: true, xlabel: "step", ylabel: "loss", series: nets.map((n, i) => ({ points: n.losses.map((v, k) => [k + 1, v]), color: NET_COLORS[i] })) });
    drawPlot(accuracy, { x: [1, steps], y: [0, 1], xlabel: "step", ylabel: "accuracy", series: nets.map((n, i) => ({ points: n.accuracies.map((v, k) => [k + 1, v]), color: NET_COLORS[i] })) });
    networks.replaceChildren();
    nets.forEach((net, i) => {
      const card = node("article", "tga-network");
      const last = net.losses.length ? net.losses[net.losses.length - 1] : null;
      const acc = net.accuracies.length ? net.accuracies[net.accuracies.length - 1] : null;
      const title = node("h4", "", `Network ${"AB"[i]}: ${net.activation}`);
      title.style.color = NET_COLORS[i];
      const numbers = node("p", "tga-numbers", `loss ${last === null ? "–" : last.toPrecision(4)} · accuracy ${acc === null ? "–" : `${(acc * 100).toFixed(0)}%`}`);
      card.append(title, numbers);
      if (net.boundary) card.appendChild(boundaryFigure(state, net));
      card.appendChild(healthTable(net));
      networks.appendChild(card);
    });
  }

  for (const name of ["state", "error", "playing"]) model.on(`change:${name}`, show);
  show();
  return () => {
    for (const name of ["state", "error", "playing"]) model.off(`change:${name}`, show);
  };
}

export default { render };
