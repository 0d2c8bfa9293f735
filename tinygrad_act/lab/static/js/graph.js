// Panel 1: an expression, a slider per variable, the engine's drawing, and backprop step by step;
// or, on the "As code" tab, the same forward and backward pass as the Python `trace` writes.

import { Latest, post, showError } from "./api.js";
import { formatPairs, parsePairs, readState, writeState } from "./url.js";

export const NEURON = {
  expression: "tanh(x1*w1 + x2*w2 + b)",
  values: { x1: 2, w1: -3, x2: 0, w2: 1, b: 6.8813735870195432 },
};

const $ = (id) => document.getElementById(id);

export class GraphPanel {
  constructor(meta) {
    this.limits = meta.limits;
    this.expression = $("expression");
    this.error = $("graph-error");
    this.variables = $("variables");
    this.result = $("graph-result");
    this.svg = $("graph-svg");
    this.info = $("node-info");
    this.status = $("step-status");
    this.code = $("graph-code").querySelector("code");
    this.codeNotice = $("code-notice");
    this.values = {};
    this.view = null;
    this.step = null; // null: the finished graph; k: backward step frame k
    this.pinned = null; // the node whose explanation stays up (tapped or highlighted)
    this.renders = 0;
    this.latest = new Latest(
      (input) => post("/api/graph", input.body),
      (view, input) => this.show(view, input),
      (error, input) => this.fail(error, input),
    );
    $("function-list").textContent = meta.activations.map((a) => a.name).join(", ");

    const state = readState();
    this.expression.value = state.get("e") || NEURON.expression;
    this.values = state.has("e") ? parsePairs(state.get("v")) : { ...NEURON.values };
    let timer = null;
    this.expression.addEventListener("input", () => {
      this.values = {}; // a new expression starts from the default values
      clearTimeout(timer);
      timer = setTimeout(() => this.request({ leaveSteps: true }), 300);
    });
    $("graph-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.request({ leaveSteps: true });
    });
    $("neuron-preset").addEventListener("click", () => {
      this.expression.value = NEURON.expression;
      this.values = { ...NEURON.values };
      this.request({ leaveSteps: true });
    });
    $("step-forward").addEventListener("click", () => this.moveStep(+1));
    $("step-back").addEventListener("click", () => this.moveStep(-1));
    $("step-live").addEventListener("click", () => this.request({ leaveSteps: true }));
    $("show-drawing").addEventListener("click", () => this.showTab("drawing"));
    $("show-code").addEventListener("click", () => this.showTab("code"));
    this.showTab(state.get("view") === "code" ? "code" : "drawing");
    this.request({});
  }

  // Ask the engine for the current expression and values (and step frame, if stepping).
  request({ leaveSteps = false, t0 = performance.now() }) {
    if (leaveSteps) this.step = null;
    const body = { expression: this.expression.value, values: this.values };
    if (this.step !== null) body.step = this.step;
    this.latest.request({ body, t0 });
  }

  moveStep(delta) {
    if (!this.view) return;
    const last = this.view.steps; // frames 0 .. steps
    const next = this.step === null ? (delta > 0 ? 0 : last) : this.step + delta;
    if (next < 0 || next > last) return;
    this.step = next;
    this.pinned = null;
    this.request({});
  }

  // The drawing or the code: both follow every answer, one is shown.
  showTab(name) {
    for (const tab of ["drawing", "code"]) {
      $(`show-${tab}`).setAttribute("aria-selected", String(tab === name));
      $(`${tab}-view`).hidden = tab !== name;
    }
    writeState({ view: name === "code" ? "code" : null });
  }

  // Refused (an invalid expression, a value out of range, no server): nothing of the last graph
  // stays on screen under the message, as if it were the answer. A refused step frame (a graph
  // too big to step through) leaves the finished graph as it is.
  fail(error, input) {
    showError(this.error, error);
    if (input.body.step !== undefined && this.view) {
      this.step = null;
      return;
    }
    this.view = null;
    this.step = null;
    this.pinned = null;
    this.result.replaceChildren();
    this.svg.replaceChildren();
    this.code.textContent = "";
    showError(this.codeNotice, null);
    this.clearInfo();
    // Another expression's sliders would show values it no longer has: they go too.
    if (input.body.expression !== this.shownExpression) this.variables.replaceChildren();
    for (const grad of this.variables.querySelectorAll(".grad")) grad.textContent = "";
    this.status.textContent = "";
    $("step-back").disabled = $("step-forward").disabled = true;
  }

  show(view, input) {
    showError(this.error, null);
    const sameVariables = this.view && this.view.variables.map((v) => v.name).join() === view.variables.map((v) => v.name).join();
    this.view = view;
    this.shownExpression = view.expression;
    for (const v of view.variables) this.values[v.name] = v.value;
    for (const name of Object.keys(this.values)) {
      if (!view.variables.some((v) => v.name === name)) delete this.values[name];
    }
    if (!sameVariables) this.buildSliders(view);
    this.updateSliders(view);
    this.result.replaceChildren();
    const value = document.createElement("p");
    value.className = "value";
    value.id = "graph-value";
    value.textContent = `${view.output} = ${view.value_text}`;
    this.result.appendChild(value);
    if (view.notice) {
      const notice = document.createElement("p");
      notice.className = "error";
      notice.textContent = view.notice;
      this.result.appendChild(notice);
    }
    const frame = view.frame;
    this.svg.innerHTML = frame ? frame.svg : view.svg || "";
    const drawing = this.svg.querySelector("svg");
    if (drawing) {
      // Graphviz sizes the picture in points; the page scales it with the panel instead.
      drawing.removeAttribute("width");
      drawing.removeAttribute("height");
    }
    this.wireNodes();
    this.code.textContent = view.code || ""; // text, never markup: the code holds user labels
    showError(this.codeNotice, view.code_notice ? new Error(view.code_notice) : null);
    if (frame) {
      const node = frame.highlight.find((id) => id.startsWith("v"));
      this.status.textContent = frame.index === 0 && !node
        ? `Step 0 of ${frame.count - 1}: the start of backward`
        : `Step ${frame.index} of ${frame.count - 1}`;
      this.status.dataset.highlight = node || "";
      if (node) this.explain(node, true);
      else this.clearInfo();
    } else {
      this.status.textContent = `Finished graph: all gradients after backward (${view.steps} backward steps)`;
      this.status.dataset.highlight = "";
      if (this.pinned && view.nodes.some((n) => n.id === this.pinned)) this.explain(this.pinned, true);
      else this.clearInfo();
    }
    $("step-back").disabled = frame ? frame.index === 0 : false;
    $("step-forward").disabled = frame ? frame.index === frame.count - 1 : false;
    writeState({ e: this.expression.value, v: formatPairs(this.values) });
    this.renders += 1;
    const panel = $("graph-panel");
    panel.dataset.renders = String(this.renders);
    requestAnimationFrame(() => {
      window.labTimings = window.labTimings || [];
      window.labTimings.push(performance.now() - input.t0);
    });
  }

  buildSliders(view) {
    this.variables.replaceChildren();
    const [lo, hi] = view.slider_range;
    for (const v of view.variables) {
      const row = document.createElement("div");
      row.className = "variable";
      row.id = `var-${v.name}`;
      const label = document.createElement("label");
      label.textContent = v.name;
      label.htmlFor = `var-${v.name}-slider`;
      const slider = document.createElement("input");
      Object.assign(slider, { type: "range", min: lo, max: hi, step: 0.01, id: `var-${v.name}-slider` });
      const box = document.createElement("input");
      Object.assign(box, { type: "number", step: "any", id: `var-${v.name}-number` });
      box.setAttribute("aria-label", `${v.name} value`);
      const grad = document.createElement("span");
      grad.className = "grad";
      grad.id = `var-${v.name}-grad`;
      slider.addEventListener("input", (event) => {
        const t0 = event.timeStamp || performance.now();
        this.values[v.name] = Number(slider.value);
        box.value = slider.value;
        this.request({ t0 });
      });
      box.addEventListener("change", () => {
        if (box.value === "" || !Number.isFinite(Number(box.value))) return;
        this.values[v.name] = Number(box.value);
        slider.value = box.value;
        this.request({});
      });
      row.append(label, slider, box, grad);
      this.variables.appendChild(row);
    }
  }

  // Values, and beside them the gradients: after backward, or as far as the step frame shown.
  updateSliders(view) {
    const frame = view.frame;
    const partial = frame && frame.index < frame.count - 1;
    view.variables.forEach((v, i) => {
      const slider = $(`var-${v.name}-slider`);
      const box = $(`var-${v.name}-number`);
      if (document.activeElement !== slider) slider.value = v.value;
      if (document.activeElement !== box) box.value = v.value;
      const grad = frame ? frame.variables[i] : v;
      const sofar = partial && grad.grad !== null ? " so far" : "";
      $(`var-${v.name}-grad`).textContent = `∂${view.output}/∂${v.name}${sofar} = ${grad.grad_text}`;
    });
  }

  // Hover, focus or tap a node of the drawing: its explanation. An op's ellipse (o7) explains
  // the value it makes (v7).
  wireNodes() {
    for (const group of this.svg.querySelectorAll("g.node")) {
      const title = group.querySelector("title");
      if (!title) continue;
      const id = title.textContent.replace(/^o/, "v");
      if (!this.view.nodes.some((n) => n.id === id)) continue;
      group.setAttribute("tabindex", "0");
      group.dataset.node = id;
      group.addEventListener("mouseenter", () => this.explain(id, false));
      group.addEventListener("focus", () => this.explain(id, false));
      group.addEventListener("click", () => { this.pinned = id; this.explain(id, true); });
    }
    this.svg.onmouseleave = () => {
      if (this.pinned) this.explain(this.pinned, true);
    };
  }

  clearInfo() {
    this.info.innerHTML = '<p class="placeholder">Hover or tap a node: its op, its local derivative with the numbers plugged in, and the chain rule that gives its gradient.</p>';
    this.info.dataset.node = "";
  }

  explain(id, pin) {
    const node = this.view.nodes.find((n) => n.id === id);
    if (!node) return;
    if (pin) this.pinned = id;
    for (const group of this.svg.querySelectorAll("g.node.hovered")) group.classList.remove("hovered");
    for (const group of this.svg.querySelectorAll(`g.node[data-node="${id}"]`)) group.classList.add("hovered");
    const parts = [];
    const add = (tag, text, className) => {
      const element = document.createElement(tag);
      element.textContent = text;
      if (className) element.className = className;
      parts.push(element);
    };
    const kinds = { output: "the output", op: `made by ${node.op}`, variable: "a variable", constant: "a constant" };
    add("h3", `${node.name} (${kinds[node.kind]})`);
    add("p", node.equation, "formula");
    if (node.locals.length) {
      add("h4", node.locals.length > 1 ? "Local derivatives of its op" : "Local derivative of its op");
      for (const local of node.locals) {
        add("p", local.text, "formula");
        if (local.where) add("p", local.where, "formula");
      }
      add("h4", "Backward through this op passes down");
      for (const local of node.locals) add("p", local.share, "formula");
    }
    add("h4", "Its gradient, by the chain rule");
    add("p", node.chain, "formula chain");
    this.info.replaceChildren(...parts);
    this.info.dataset.node = id;
  }
}
