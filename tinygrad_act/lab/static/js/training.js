// Panel 3: train one or two networks live; the server streams every step it makes.

import { post, showError } from "./api.js";
import { drawPlot, extent, svgElement } from "./plot.js";
import { readState, writeState } from "./url.js";

const $ = (id) => document.getElementById(id);
const NET_COLORS = ["#2563eb", "#ea580c"];
const NONE = "(none)";
const HEALTH_AXIS = [-6, 0]; // log10 of the gradient size: bars from 1e-6 to 1
// The settings' boxes, and the words a server message uses for each (its first one wins).
const FIELDS = {
  dataset: ["train-dataset", /\bdataset\b/],
  depth: ["train-depth", /\bdepth\b|\bhidden layers\b/],
  width: ["train-width", /\bwidth\b/],
  activations: ["train-act-0", /\bactivations?\b/],
  lr: ["train-lr", /\blr\b|\blearning rate\b/],
  seed: ["train-seed", /\bseed\b/],
  compile: ["train-compile", /\bcompile\b/],
};

export class TrainingPanel {
  constructor(meta, session) {
    this.session = session;
    this.meta = meta;
    this.error = $("train-error");
    this.status = $("train-status");
    this.generation = null;
    this.state = null; // the run as the page knows it: settings, points, curves per network
    const names = meta.activations.map((a) => a.name);
    fill($("train-dataset"), meta.limits.datasets);
    fill($("train-act-0"), names);
    fill($("train-act-1"), [NONE, ...names]);
    // The boxes' bounds are the library's (tinygrad_act.settings), as the server checks them.
    for (const key of ["depth", "width", "lr", "seed"]) {
      [$(FIELDS[key][0]).min, $(FIELDS[key][0]).max] = meta.limits[key];
    }
    this.setForm(this.settingsFromUrl(meta.defaults));
    for (const [input] of Object.values(FIELDS)) {
      const note = document.createElement("span");
      note.className = "field-error";
      note.id = `${input}-error`;
      note.hidden = true;
      $(input).after(note);
    }
    for (const id of ["train-play", "train-pause", "train-step"]) $(id).disabled = true; // until the first run exists
    $("train-reset").addEventListener("click", () => this.act({ action: "reset", settings: this.readForm() }));
    $("train-play").addEventListener("click", () => this.act({ action: "play" }));
    $("train-pause").addEventListener("click", () => this.act({ action: "pause" }));
    $("train-step").addEventListener("click", () => this.act({ action: "step" }));
    this.act({ action: "reset", settings: this.readForm() }).then(() => this.listen());
  }

  settingsFromUrl(defaults) {
    const state = readState();
    const settings = { ...defaults };
    if (state.has("ds")) settings.dataset = state.get("ds");
    for (const key of ["depth", "width", "seed", "lr"]) {
      if (state.has(key) && Number.isFinite(Number(state.get(key)))) settings[key] = Number(state.get(key));
    }
    if (state.has("acts")) settings.activations = state.get("acts").split(",").filter(Boolean);
    if (state.has("compile")) settings.compile = state.get("compile") !== "off";
    return settings;
  }

  setForm(s) {
    $("train-dataset").value = s.dataset;
    $("train-depth").value = s.depth;
    $("train-width").value = s.width;
    $("train-act-0").value = s.activations[0];
    $("train-act-1").value = s.activations[1] || NONE;
    $("train-lr").value = s.lr;
    $("train-seed").value = s.seed;
    $("train-compile").checked = s.compile;
  }

  readForm() {
    const activations = [$("train-act-0").value];
    if ($("train-act-1").value !== NONE) activations.push($("train-act-1").value);
    // An empty box is sent as null, which the server calls missing (Number("") would be 0).
    const number = (id) => ($(id).value === "" ? null : Number($(id).value));
    return {
      dataset: $("train-dataset").value,
      depth: number("train-depth"),
      width: number("train-width"),
      activations,
      lr: number("train-lr"),
      seed: number("train-seed"),
      compile: $("train-compile").checked,
    };
  }

  async act(body) {
    try {
      const state = await post(`/api/sessions/${this.session}/train`, body);
      this.showRefusal(null);
      this.apply(state);
    } catch (error) {
      this.showRefusal(error);
    }
  }

  // The server's message next to the field it names (or under the buttons if it names none).
  showRefusal(error) {
    const named = error ? fieldNamed(error.message) : null;
    for (const [input] of Object.values(FIELDS)) {
      const note = $(`${input}-error`);
      const here = named === input;
      note.hidden = !here;
      note.textContent = here ? error.message : "";
      $(input).toggleAttribute("aria-invalid", here);
    }
    showError(this.error, named ? null : error);
  }

  // The live stream: every chunk a playing run trains, and every change made by a button.
  listen() {
    const source = new EventSource(`/api/sessions/${this.session}/events`);
    source.addEventListener("train", (event) => this.apply(JSON.parse(event.data)));
    // The stream ends when the server stops; the browser then keeps trying to reconnect.
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        showError(this.error, new Error("the live stream closed: reload the page to start again"));
      } else {
        this.lost = true;
        this.status.textContent = "lost the server";
        showError(this.error, new Error("lost the lab server: is `tinygrad-act lab` still running? Trying to reconnect…"));
      }
    });
    source.addEventListener("open", () => {
      if (this.lost) showError(this.error, null);
      this.lost = false;
    });
    this.source = source;
  }

  // Merge a snapshot: a new generation (a reset) replaces everything, else curves are appended.
  apply(state) {
    const fresh = state.generation !== this.generation || !this.state;
    if (fresh) {
      this.generation = state.generation;
      this.state = { settings: state.settings, points: state.points, extent: state.extent, networks: state.networks.map(() => ({ losses: [], accuracies: [] })) };
      this.buildCards(state);
      this.setForm(state.settings);
      const s = state.settings;
      // compile is written only when off: a link made before it existed reads the same.
      writeState({ ds: s.dataset, depth: s.depth, width: s.width, acts: s.activations.join(","), lr: s.lr, seed: s.seed, compile: s.compile ? null : "off" });
    }
    state.networks.forEach((net, i) => {
      const known = this.state.networks[i];
      if (net.from > known.losses.length) return; // a gap: the next full snapshot fills it
      known.losses.length = net.from;
      known.accuracies.length = net.from;
      known.losses.push(...net.losses);
      known.accuracies.push(...net.accuracies);
      Object.assign(known, { boundary: net.boundary, health: net.health, test: net.test_accuracy, activation: net.activation });
    });
    this.step = state.step;
    this.render(state);
  }

  buildCards(state) {
    const holder = $("networks");
    holder.replaceChildren();
    state.networks.forEach((net, i) => {
      const card = document.createElement("article");
      card.className = "network";
      card.id = `net-${i}`;
      card.innerHTML = `
        <h3 class="net-title net-${i}">Network ${"AB"[i]}: ${net.activation}</h3>
        <p class="net-numbers" id="net-${i}-numbers"></p>
        <div class="net-body">
          <figure class="boundary-figure"><canvas id="net-${i}-boundary" width="40" height="40" aria-label="decision boundary"></canvas>
            <svg id="net-${i}-points" class="points" viewBox="0 0 200 200" aria-hidden="true"></svg>
            <figcaption>Decision boundary: blue predicts class 1, red class 0, white 50/50</figcaption></figure>
          <figure class="health-figure"><div class="health-scroll"><table class="health" id="net-${i}-health">
            <caption>Activation health per hidden layer (latest step)</caption>
            <thead><tr><th>layer</th><th>saturated</th><th>dead</th><th>gradient size |∂L/∂a| (log scale)</th></tr></thead>
            <tbody></tbody></table></div>
            <p class="hint">Saturated: units where g′(z) is below 1% of its peak, so almost nothing flows back; dead: saturated for every example. Gradient size: the standard deviation of ∂L/∂a over the layer's outputs; bars run from 1e-6 to 1.</p>
          </figure>
        </div>`;
      holder.appendChild(card);
      if (!state.extent) card.querySelector(".boundary-figure").hidden = true;
    });
  }

  render(state) {
    const nets = this.state.networks;
    const stopped = state.message ? ` · ${state.message}` : "";
    const rate = state.steps_per_second ? ` · ${state.steps_per_second.toFixed(1)} steps/s` : "";
    this.status.textContent = `${state.playing ? "training" : "paused"} · step ${state.step} of at most ${state.max_steps}${rate}${stopped}`;
    this.status.dataset.step = String(state.step);
    $("train-play").disabled = state.playing || Boolean(state.finished);
    $("train-pause").disabled = !state.playing;
    $("train-step").disabled = Boolean(state.finished);

    const steps = Math.max(1, ...nets.map((n) => n.losses.length));
    const lossSeries = nets.map((n, i) => ({ points: n.losses.map((v, k) => [k + 1, v]), color: NET_COLORS[i] }));
    drawPlot($("loss-plot"), { x: [1, Math.max(steps, 10)], y: extent(nets.map((n) => n.losses), { positive: true }), ylog: true, xlabel: "step", ylabel: "loss", series: lossSeries });
    const accSeries = nets.map((n, i) => ({ points: n.accuracies.map((v, k) => [k + 1, v]), color: NET_COLORS[i] }));
    drawPlot($("accuracy-plot"), { x: [1, Math.max(steps, 10)], y: [0, 1], xlabel: "step", ylabel: "accuracy", series: accSeries });

    nets.forEach((net, i) => {
      const loss = net.losses.length ? net.losses[net.losses.length - 1] : null;
      const accuracy = net.accuracies.length ? net.accuracies[net.accuracies.length - 1] : null;
      const numbers = $(`net-${i}-numbers`);
      if (!numbers) return;
      numbers.innerHTML = "";
      const parts = [
        ["loss", loss === null ? "–" : loss.toPrecision(4)],
        ["training accuracy", accuracy === null ? "–" : `${(accuracy * 100).toFixed(0)}%`],
      ];
      if (net.test !== null && net.test !== undefined) parts.push(["test accuracy", `${(net.test * 100).toFixed(0)}%`]);
      for (const [name, value] of parts) {
        const item = document.createElement("span");
        item.className = name.replace(/ /g, "-");
        item.textContent = `${name} ${value}`;
        numbers.appendChild(item);
      }
      numbers.dataset.loss = loss === null ? "" : String(loss);
      if (net.boundary) this.drawBoundary(i, net.boundary);
      this.drawHealth(i, net.health || []);
    });
  }

  drawBoundary(i, boundary) {
    const canvas = $(`net-${i}-boundary`);
    const n = boundary.size;
    canvas.width = canvas.height = n;
    const context = canvas.getContext("2d");
    const image = context.createImageData(n, n);
    boundary.percent.forEach((p, k) => {
      // P(class 1) from red (0%) through white (50%) to blue (100%).
      const t = p / 100;
      const [r, g, b] = t < 0.5 ? [248, 113 + 284 * t, 113 + 284 * t] : [255 - 314 * (t - 0.5), 255 - 180 * (t - 0.5), 255];
      image.data.set([r, g, b, 255], 4 * k);
    });
    context.putImageData(image, 0, 0);
    const svg = $(`net-${i}-points`);
    if (svg.childElementCount || !this.state.points) return;
    const [x0, x1, y0, y1] = this.state.extent;
    for (const [x, y, label] of this.state.points) {
      svgElement("circle", { cx: ((x - x0) / (x1 - x0)) * 200, cy: ((y1 - y) / (y1 - y0)) * 200, r: 3.2, class: label ? "one" : "zero" }, svg);
    }
  }

  drawHealth(i, rows) {
    const body = $(`net-${i}-health`).tBodies[0];
    body.replaceChildren();
    // One fixed log axis, 1e-6 to 1, for both networks: their bars compare side by side.
    const [lo, hi] = HEALTH_AXIS;
    for (const row of rows) {
      const tr = body.insertRow();
      tr.insertCell().textContent = row.layer;
      tr.insertCell().textContent = row.saturated === null ? "–" : `${(row.saturated * 100).toFixed(0)}%`;
      tr.insertCell().textContent = row.dead === null ? "–" : `${(row.dead * 100).toFixed(0)}%`;
      const cell = tr.insertCell();
      const svg = svgElement("svg", { viewBox: "0 0 160 18", class: "bar", role: "img", "aria-label": row.grad === null ? "no gradient" : `gradient size ${row.grad.toPrecision(3)}` }, cell);
      if (row.log10_grad !== null) {
        const width = 2 + (Math.min(Math.max(row.log10_grad, lo), hi) - lo) / (hi - lo) * 100;
        svgElement("rect", { x: 0, y: 3, width, height: 12, fill: NET_COLORS[i] }, svg);
        svgElement("text", { x: width + 4, y: 13, class: "tick" }, svg, row.grad.toExponential(1));
      }
    }
    if (!rows.length) {
      const tr = body.insertRow();
      const cell = tr.insertCell();
      cell.colSpan = 4;
      cell.textContent = "take a step to measure";
    }
  }
}

// The id of the box a server message is about: the field it names first.
function fieldNamed(message) {
  let best = null;
  for (const [input, words] of Object.values(FIELDS)) {
    const found = words.exec(message);
    if (found && (best === null || found.index < best.index)) best = { input, index: found.index };
  }
  return best ? best.input : null;
}

function fill(select, values) {
  select.replaceChildren();
  for (const value of values) {
    const option = document.createElement("option");
    option.value = option.textContent = value;
    select.appendChild(option);
  }
}
