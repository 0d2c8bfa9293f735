// The explorer widget: pick an activation, move z; the kernel's `explore` gives g(z), g'(z)
// three ways and the tangent; drawPlot (the lab's plot.js, above) draws them.

const COLORS = { g: "#2563eb", slope: "#ea580c", tangent: "#6b7280", kink: "#dc2626" };
let plots = 0; // drawPlot names its clip path after the svg's id: one id per widget view

function el_(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function render({ model, el }) {
  const root = el_("div", "tga tga-explorer");
  const form = el_("div", "tga-controls");
  const select = el_("select");
  select.setAttribute("aria-label", "activation");
  for (const spec of model.get("menu")) select.appendChild(Object.assign(el_("option", "", spec.name), { value: spec.name }));
  const [lo, hi] = model.get("z_range");
  const slider = Object.assign(el_("input"), { type: "range", min: lo, max: hi, step: 0.01 });
  const box = Object.assign(el_("input"), { type: "number", step: "any", min: lo, max: hi });
  slider.setAttribute("aria-label", "z slider");
  box.setAttribute("aria-label", "z value");
  const params = el_("span", "tga-params");
  form.append(select, el_("label", "", "z"), slider, box, params);
  const error = el_("p", "tga-error");
  error.setAttribute("role", "alert");
  const plot = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  plot.setAttribute("viewBox", "0 0 640 300");
  plot.setAttribute("class", "tga-plot");
  plot.id = `tga-explorer-plot-${(plots += 1)}`;
  const table = el_("table", "tga-ways");
  const note = el_("p", "tga-note");
  root.append(form, error, plot, table, note);
  el.appendChild(root);

  const setZ = (z) => { model.set("z", z); model.save_changes(); };
  select.addEventListener("change", () => { model.set("name", select.value); model.save_changes(); });
  slider.addEventListener("input", () => setZ(Number(slider.value)));
  box.addEventListener("change", () => setZ(box.value === "" ? null : Number(box.value)));

  function buildParams(view) {
    params.replaceChildren();
    for (const [name, value] of Object.entries(view.params)) {
      const input = Object.assign(el_("input"), { type: "number", step: "any", value });
      input.setAttribute("aria-label", name);
      input.addEventListener("change", () => {
        model.set("params", { ...model.get("params"), [name]: input.value === "" ? null : Number(input.value) });
        model.save_changes();
      });
      params.append(el_("label", "", name), input);
    }
  }

  function show() {
    const view = model.get("view");
    error.textContent = model.get("error");
    error.hidden = !model.get("error");
    if (!view || !view.at) return;
    select.value = view.name;
    const at = view.at;
    if (document.activeElement !== slider) slider.value = at.z;
    if (document.activeElement !== box) box.value = at.z;
    buildParams(view);
    const curve = view.curve;
    const vlines = [{ x: at.z, color: "#111827", dash: "2 3" }];
    if (view.kink) vlines.push({ x: view.kink.at, color: COLORS.kink, dash: "4 3", label: "kink" });
    drawPlot(plot, {
      x: [curve.z[0], curve.z[curve.z.length - 1]],
      y: extent([curve.g, curve.slope]),
      xlabel: "z",
      series: [
        { points: view.tangent, color: COLORS.tangent, width: 1.5, dash: "6 4", class: "tangent" },
        { points: curve.z.map((z, i) => [z, curve.g[i]]), color: COLORS.g, width: 2.5, class: "g" },
        { points: curve.z.map((z, i) => [z, curve.slope[i]]), color: COLORS.slope, width: 2.5, class: "slope" },
      ],
      vlines,
      dots: [
        { x: at.z, y: at.a, color: COLORS.g, class: "at-g" },
        { x: at.z, y: at.backprop, color: COLORS.slope, class: "at-slope" },
      ],
    });
    table.replaceChildren();
    for (const [way, text, key] of [
      [`blue: g(z) = ${view.name}(z)`, at.texts.a, "a"],
      ["the slide's formula", at.texts.formula, "formula"],
      ["orange: g′(z) by backprop", at.texts.backprop, "backprop"],
      ["central difference", at.texts.numeric, "numeric"],
      ["so", at.texts.agreement, "agreement"],
    ]) {
      const row = table.insertRow();
      row.dataset.way = key;
      row.insertCell().textContent = way;
      row.insertCell().textContent = text;
    }
    note.hidden = !view.kink;
    note.textContent = view.kink ? view.kink.note : "";
  }

  for (const name of ["view", "error", "z", "name"]) model.on(`change:${name}`, show);
  show();
  return () => {
    for (const name of ["view", "error", "z", "name"]) model.off(`change:${name}`, show);
  };
}

export default { render };
