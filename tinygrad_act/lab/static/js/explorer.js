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
    this.body = document.querySelector("#explorer-panel .explorer-body");
    this.frame = null;
    this.zRange = meta.limits.z_range;
    // The slider and the box span the whole range the server accepts (the slide's ±10 and more).
    for (const input of [this.slider, this.box]) [input.min, input.max] = this.zRange;
    this.z = Number(this.slider.value);
    this.latest = new Latest(
      (body) => post("/api/activation", body),
      (view) => this.show(view),
      (error) => this.fail(error),
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
    // A z from the address goes to the server as it is: out of range, it is refused with a
    // message (never moved into range, and the address keeps what was shared).
    if (state.has("z")) this.setZ(state.get("z") === "" ? null : Number(state.get("z")));
    this.buildParams();
    this.buildSlidePoints(meta.slide_points);

    this.select.addEventListener("change", () => {
      this.paramValues = {};
      this.buildParams();
      this.request();
    });
    this.slider.addEventListener("input", () => {
      this.setZ(Number(this.slider.value));
      this.request();
    });
    this.box.addEventListener("change", () => {
      this.setZ(this.box.value === "" ? null : Number(this.box.value)); // empty: "missing"
      this.request();
    });
    this.wireDrag();
    this.request();
  }

  // z as typed, dragged or clicked; the slider only shows it (a slider cannot hold 50).
  setZ(z) {
    this.z = z;
    if (z !== null && Number.isFinite(z)) this.slider.value = z;
    if (document.activeElement !== this.box) this.box.value = z === null ? "" : z;
  }

  // The slide's worked points (sigmoid and tanh at z = -10, 0, 10), one click each.
  buildSlidePoints(points) {
    const holder = $("slide-points");
    for (const point of points) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `${point.name}(${point.z})`;
      button.dataset.activation = point.name;
      button.dataset.z = point.z;
      button.addEventListener("click", () => {
        if (this.select.value !== point.name) {
          this.select.value = point.name;
          this.paramValues = {};
          this.buildParams();
        }
        this.setZ(point.z);
        this.request();
      });
      holder.appendChild(button);
    }
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
    this.latest.request({ name: spec.name, z: Number.isFinite(this.z) ? this.z : null, params });
  }

  // A refused z (out of range, missing): the message, and the last answer dimmed as stale.
  fail(error) {
    showError(this.error, error);
    this.body.classList.add("stale");
  }

  // Drag on the plot: z follows the pointer, in the slider's steps of 0.01.
  wireDrag() {
    let dragging = false;
    const move = (event) => {
      if (!this.frame) return;
      const box = this.plot.getBoundingClientRect();
      const [, , width] = this.plot.getAttribute("viewBox").split(" ").map(Number);
      const x = ((event.clientX - box.left) / box.width) * width;
      const [lo, hi] = this.zRange; // a drag past the plot's edge stops at the range's end
      this.setZ(Math.min(hi, Math.max(lo, Math.round(this.frame.xAt(x) * 100) / 100)));
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
    this.body.classList.remove("stale");
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
      [COLORS.tangent, `tangent at z = ${at.z}: slope g′(z)`, "6 4"],
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
    writeState({ a: view.name, z: at.z, p: formatPairs(this.paramValues) });
  }
}
