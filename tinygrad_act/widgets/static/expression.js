// The expression widget: sliders and number boxes, the engine's drawing, a node's explanation on
// hover or tap, backward a step at a time, or the whole pass as code (the "as code" tab). Every
// number and every line of code comes from the kernel (model "view").

function make(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function explanation(node) {
  const kinds = { output: "the output", op: `made by ${node.op}`, variable: "a variable", constant: "a constant" };
  const parts = [make("h4", "", `${node.name} (${kinds[node.kind]})`), make("p", "formula", node.equation)];
  if (node.locals.length) {
    parts.push(make("h5", "", node.locals.length > 1 ? "Local derivatives of its op" : "Local derivative of its op"));
    for (const local of node.locals) {
      parts.push(make("p", "formula", local.text));
      if (local.where) parts.push(make("p", "formula", local.where));
    }
    parts.push(make("h5", "", "Backward through this op passes down"));
    for (const local of node.locals) parts.push(make("p", "formula", local.share));
  }
  parts.push(make("h5", "", "Its gradient, by the chain rule"), make("p", "formula chain", node.chain));
  return parts;
}

function render({ model, el }) {
  const root = make("div", "tga tga-expression");
  const head = make("p", "tga-value");
  const error = make("p", "tga-error");
  error.setAttribute("role", "alert");
  const rows = make("div", "tga-variables");
  const controls = make("div", "tga-controls");
  const back = make("button", "", "◀ step back");
  const forward = make("button", "", "step ▶");
  const live = make("button", "", "finished graph");
  const status = make("span", "tga-status");
  controls.append(back, forward, live, status);
  const drawing = make("div", "tga-drawing");
  const info = make("div", "tga-info");
  const tabs = make("div", "tga-tabs");
  tabs.setAttribute("role", "tablist");
  const drawingTab = make("button", "", "the graph");
  const codeTab = make("button", "", "as code");
  for (const tab of [drawingTab, codeTab]) tab.setAttribute("role", "tab");
  tabs.append(drawingTab, codeTab);
  const drawingPane = make("div", "tga-pane");
  drawingPane.append(controls, drawing, info);
  const codePane = make("div", "tga-pane");
  const codeNotice = make("p", "tga-notice");
  const code = make("pre", "tga-code");
  codePane.append(codeNotice, code);
  root.append(head, error, rows, tabs, drawingPane, codePane);
  el.appendChild(root);
  let pinned = null;
  let names = "";

  const send = (values) => {
    model.set("values", values);
    model.save_changes();
  };

  function buildRows(view) {
    rows.replaceChildren();
    const [lo, hi] = model.get("slider_range");
    for (const v of view.variables) {
      const row = make("div", "tga-variable");
      const label = make("label", "", v.name);
      const slider = Object.assign(make("input"), { type: "range", min: lo, max: hi, step: 0.01 });
      const box = Object.assign(make("input"), { type: "number", step: "any" });
      slider.setAttribute("aria-label", `${v.name} slider`);
      box.setAttribute("aria-label", `${v.name} value`);
      slider.dataset.name = box.dataset.name = v.name;
      slider.addEventListener("input", () => send({ ...model.get("values"), [v.name]: Number(slider.value) }));
      box.addEventListener("change", () => {
        // An empty box goes to the kernel as null: it answers with the lab's message.
        send({ ...model.get("values"), [v.name]: box.value === "" ? null : Number(box.value) });
      });
      row.append(label, slider, box, make("span", "tga-grad"));
      rows.appendChild(row);
    }
  }

  function explain(id) {
    const node = model.get("view").nodes.find((n) => n.id === id);
    if (!node) return;
    for (const g of drawing.querySelectorAll("g.node.hovered")) g.classList.remove("hovered");
    for (const g of drawing.querySelectorAll(`g.node[data-node="${id}"]`)) g.classList.add("hovered");
    info.replaceChildren(...explanation(node));
    info.dataset.node = id;
  }

  function show() {
    const view = model.get("view");
    const step = model.get("step");
    error.textContent = model.get("error");
    error.hidden = !model.get("error");
    if (!view || !view.variables) return;
    const now = view.variables.map((v) => v.name).join();
    if (now !== names) buildRows(view);
    names = now;
    head.textContent = `${model.get("expression")}:  ${view.output} = ${view.value_text}`;
    const showCode = model.get("show_code");
    drawingTab.setAttribute("aria-selected", String(!showCode));
    codeTab.setAttribute("aria-selected", String(showCode));
    drawingPane.hidden = showCode;
    codePane.hidden = !showCode;
    code.textContent = view.code || ""; // text, never markup
    codeNotice.textContent = view.code_notice || "";
    codeNotice.hidden = !view.code_notice;
    const frame = step === null ? null : view.frame;
    const partial = frame && frame.index < frame.count - 1;
    view.variables.forEach((v, i) => {
      const row = rows.children[i];
      const [slider, box, grad] = row.querySelectorAll("input[type=range], input[type=number], .tga-grad");
      if (document.activeElement !== slider) slider.value = v.value;
      if (document.activeElement !== box) box.value = v.value;
      const shown = frame && frame.variables ? frame.variables[i] : v;
      const sofar = partial && shown.grad !== null ? " so far" : "";
      grad.textContent = `∂${view.output}/∂${v.name}${sofar} = ${shown.grad_text}`;
      grad.dataset.grad = shown.grad === null ? "" : String(shown.grad);
    });
    drawing.innerHTML = (frame ? frame.svg : view.svg) || `<p>${view.notice || ""}</p>`;
    const svg = drawing.querySelector("svg");
    if (svg) {
      svg.removeAttribute("width"); // the drawing scales with the cell, not in Graphviz's points
      svg.removeAttribute("height");
    }
    for (const group of drawing.querySelectorAll("g.node")) {
      const title = group.querySelector("title");
      if (!title) continue;
      const id = title.textContent.replace(/^o/, "v"); // an op's ellipse explains the value it makes
      group.dataset.node = id;
      group.setAttribute("tabindex", "0");
      group.addEventListener("mouseenter", () => explain(id));
      group.addEventListener("focus", () => explain(id));
      group.addEventListener("click", () => { pinned = id; explain(id); });
    }
    const highlight = frame ? frame.highlight.find((id) => id.startsWith("v")) : null;
    if (highlight) explain(highlight);
    else if (pinned && view.nodes.some((n) => n.id === pinned)) explain(pinned);
    else info.replaceChildren(make("p", "tga-placeholder", "Hover or tap a node: its op, its local derivative with the numbers plugged in, and the chain rule that gives its gradient."));
    status.textContent = frame
      ? `Step ${frame.index} of ${frame.count - 1}`
      : `Finished graph: all gradients after backward (${view.steps} backward steps)`;
    back.disabled = frame ? frame.index === 0 : false;
    forward.disabled = frame ? frame.index === frame.count - 1 : false;
    live.disabled = !frame;
    root.dataset.renders = String(Number(root.dataset.renders || 0) + 1);
  }

  const move = (delta) => {
    const view = model.get("view");
    const step = model.get("step");
    const next = step === null ? (delta > 0 ? 0 : view.steps) : step + delta;
    if (next < 0 || next > view.steps) return;
    model.set("step", next);
    model.save_changes();
  };
  back.addEventListener("click", () => move(-1));
  forward.addEventListener("click", () => move(+1));
  live.addEventListener("click", () => { model.set("step", null); model.save_changes(); });
  drawing.addEventListener("mouseleave", () => { if (pinned) explain(pinned); });
  const showTab = (showCode) => { model.set("show_code", showCode); model.save_changes(); };
  drawingTab.addEventListener("click", () => showTab(false));
  codeTab.addEventListener("click", () => showTab(true));
  const traits = ["view", "error", "step", "values", "show_code"];
  for (const name of traits) model.on(`change:${name}`, show);
  show();
  return () => {
    for (const name of traits) model.off(`change:${name}`, show);
  };
}

export default { render };
