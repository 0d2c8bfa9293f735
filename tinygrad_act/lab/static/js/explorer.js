// Panel 2: pick an activation, drag z; the engine gives g(z), g'(z) three ways and the tangent.

import { Latest, post, showError } from "./api.js";
import { drawPlot, extent, svgElement } from "./plot.js";
import { formatPairs, parsePairs, readState, writeState } from "./url.js";

const $ = (id) => document.getElementById(id);
const COLORS = { g: "#2563eb", slope: "#ea580c", tangent: "#6b7280", kink: "#dc2626" };

export class ExplorerPanel {
  constructor(meta) {
    this.specs = Object.fromEntries(meta.activations.map((a) => [a.name, a]));
    this.select = $("activation");
    this.params = $("activation-params");
    this.slider = $("z-slider");
    this.box = $("z-number");
    this.plot = $("explorer-plot");
    this.error = $("explorer-error");
    this.frame = null;
    this.latest = new Latest(
      (body) => post("/api/activation", body),
      (view) => this.show(view),
      (error) => showError(this.error, error),
    );
    for (const spec of meta.activations) {
      const option = document.createElement("option");
      option.value = option.textContent = spec.name;
      this.select.appendChild(option);
    }
    const state = readState();
    const wanted = state.get("a");
    this.select.value = wanted && this.specs[wanted] ? wanted : "sigmoid";
    this.paramValues = parsePairs(state.get("p"));
    const z = Number(state.get("z"));
    if (state.has("z") && Number.isFinite(z)) this.setZ(z);
    this.buildParams();

    this.select.addEventListener("change", () => {
      this.paramValues = {};
      this.buildParams();
      this.request();
    });
    this.slider.addEventListener("input", () => {
      this.box.value = this.slider.value;
      this.request();
    });
    this.box.addEventListener("change", () => {
      if (this.box.value === "" || !Number.isFinite(Number(this.box.value))) return;
      this.slider.value = this.box.value;
      this.request();
    });
    this.wireDrag();
    this.request();
  }

  setZ(z) {
    this.slider.value = z;
    this.box.value = this.slider.value;
  }

  buildParams() {
    this.params.replaceChildren();
    const spec = this.specs[this.select.value];
    for (const p of spec.parameters) {
      const label = document.createElement("label");
      label.textContent = `${p.name} `;
      const slider = document.createElement("input");
      const [lo, hi] = p.range;
      Object.assign(slider, { type: "range", min: lo, max: hi, step: (hi - lo) / 100, id: `param-${p.name}` });
      slider.value = this.paramValues[p.name] ?? p.default;
      const shown = document.createElement("output");
      shown.id = `param-${p.name}-value`;
      shown.textContent = slider.value;
      slider.addEventListener("input", () => {
        shown.textContent = slider.value;
        this.request();
      });
      label.append(slider, shown);
      this.params.appendChild(label);
    }
  }

  request() {
    const spec = this.specs[this.select.value];
    const params = {};
    for (const p of spec.parameters) params[p.name] = Number($(`param-${p.name}`).value);
    this.paramValues = params;
    this.latest.request({ name: spec.name, z: Number(this.slider.value), params });
  }

  // Drag on the plot: z follows the pointer (snapped to the slider's steps by the slider).
  wireDrag() {
    let dragging = false;
    const move = (event) => {
      if (!this.frame) return;
      const box = this.plot.getBoundingClientRect();
      const [, , width] = this.plot.getAttribute("viewBox").split(" ").map(Number);
      const x = ((event.clientX - box.left) / box.width) * width;
      this.setZ(this.frame.xAt(x));
      this.request();
    };
    this.plot.addEventListener("pointerdown", (event) => {
      dragging = true;
      this.plot.setPointerCapture(event.pointerId);
      move(event);
    });
    this.plot.addEventListener("pointermove", (event) => { if (dragging) move(event); });
    this.plot.addEventListener("pointerup", () => { dragging = false; });
  }

  show(view) {
    showError(this.error, null);
    const curve = view.curve;
    const g = curve.z.map((z, i) => [z, curve.g[i]]);
    const slope = curve.z.map((z, i) => [z, curve.slope[i]]);
    const [ylo, yhi] = extent([curve.g, curve.slope]);
    const at = view.at;
    const vlines = [{ x: at.z, color: "#111827", dash: "2 3" }];
    if (view.kink) vlines.push({ x: view.kink.at, color: COLORS.kink, dash: "4 3", label: "kink" });
    this.frame = drawPlot(this.plot, {
      x: [curve.z[0], curve.z[curve.z.length - 1]],
      y: [ylo, yhi],
      xlabel: "z",
      series: [
        { points: view.tangent, color: COLORS.tangent, width: 1.5, dash: "6 4", class: "tangent" },
        { points: g, color: COLORS.g, width: 2.5, class: "g" },
        { points: slope, color: COLORS.slope, width: 2.5, class: "slope" },
      ],
      vlines,
      dots: [
        { x: at.z, y: at.a, color: COLORS.g, class: "at-g" },
        { x: at.z, y: at.backprop, color: COLORS.slope, class: "at-slope" },
      ],
    });
    const legend = $("explorer-legend");
    legend.replaceChildren();
    for (const [color, text, dash] of [
      [COLORS.g, `g(z) = ${view.name}(z)`, ""],
      [COLORS.slope, `g′(z) (backprop)`, ""],
      [COLORS.tangent, `tangent at z = ${this.slider.value}: slope g′(z)`, "6 4"],
    ]) {
      const item = document.createElement("span");
      const swatch = svgElement("svg", { width: 26, height: 10, "aria-hidden": "true" });
      svgElement("line", { x1: 0, x2: 26, y1: 5, y2: 5, stroke: color, "stroke-width": 3, "stroke-dasharray": dash }, swatch);
      item.append(swatch, ` ${text}`);
      legend.appendChild(item);
    }

    const body = $("explorer-table").tBodies[0];
    body.replaceChildren();
    for (const [way, text, id] of [
      ["a = g(z)", at.texts.a, "way-a"],
      ["the slide's formula", at.texts.formula, "way-formula"],
      ["backprop", at.texts.backprop, "way-backprop"],
      ["central difference", at.texts.numeric, "way-numeric"],
      ["so", at.texts.agreement, "way-agreement"],
    ]) {
      const row = body.insertRow();
      row.id = id;
      row.insertCell().textContent = way;
      row.insertCell().textContent = text;
    }
    const note = $("kink-note");
    note.hidden = !view.kink;
    note.textContent = view.kink ? view.kink.note : "";
    note.classList.toggle("on-kink", Boolean(view.kink && view.kink.on_it));
    writeState({ a: view.name, z: this.slider.value, p: formatPairs(this.paramValues) });
  }
}
