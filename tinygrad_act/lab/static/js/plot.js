// Small SVG charts drawn by hand: axes with round ticks, lines with gaps, dots, vertical marks.
// The numbers come from the server; this file only places them on the screen.

const NS = "http://www.w3.org/2000/svg";

export function svgElement(tag, attrs = {}, parent = null, text = null) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== null) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

// Round tick values between lo and hi (about `count` of them).
function ticks(lo, hi, count) {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  }
  return out;
}

function tickText(value, log) {
  if (log) return `1e${value}`;
  return String(Number(value.toPrecision(4)));
}

// Draw a chart into `svg` (its viewBox sets the size). Returns the mapping from data to pixels
// and back along x, for dragging.
export function drawPlot(svg, spec) {
  const [, , width, height] = svg.getAttribute("viewBox").split(" ").map(Number);
  const margin = { left: 52, right: 14, top: 12, bottom: 38, ...(spec.margin || {}) };
  const [x0, x1] = spec.x;
  const log = Boolean(spec.ylog);
  const toY = (v) => (log ? Math.log10(v) : v);
  const [y0, y1] = log ? spec.y.map(Math.log10) : spec.y;
  const left = margin.left, right = width - margin.right, top = margin.top, bottom = height - margin.bottom;
  const px = (x) => left + ((x - x0) / (x1 - x0)) * (right - left);
  const py = (y) => bottom - ((toY(y) - y0) / (y1 - y0)) * (bottom - top);
  svg.replaceChildren();

  const clipId = `clip-${svg.id}`;
  const defs = svgElement("defs", {}, svg);
  const clip = svgElement("clipPath", { id: clipId }, defs);
  svgElement("rect", { x: left, y: top, width: right - left, height: bottom - top }, clip);

  const axes = svgElement("g", { class: "axes" }, svg);
  for (const t of ticks(x0, x1, spec.xticks || 6)) {
    svgElement("line", { x1: px(t), x2: px(t), y1: top, y2: bottom, class: t === 0 ? "zero" : "grid" }, axes);
    svgElement("text", { x: px(t), y: bottom + 14, class: "tick", "text-anchor": "middle" }, axes, tickText(t, false));
  }
  // On a log axis: the powers of ten in range, or round values when the range is narrower.
  let yTicks = ticks(y0, y1, spec.yticks || 5).map((t) => [t, tickText(t, false)]);
  if (log) {
    const powers = [];
    for (let k = Math.ceil(y0 - 1e-9); k <= y1 + 1e-9; k += 1) powers.push([k, tickText(k, true)]);
    yTicks = powers.length >= 2
      ? powers
      : ticks(10 ** y0, 10 ** y1, 6).filter((t) => t > 0).map((t) => [Math.log10(t), tickText(t, false)]);
  }
  for (const [t, text] of yTicks) {
    const y = bottom - ((t - y0) / (y1 - y0)) * (bottom - top);
    svgElement("line", { x1: left, x2: right, y1: y, y2: y, class: t === 0 && !log ? "zero" : "grid" }, axes);
    svgElement("text", { x: left - 6, y: y + 4, class: "tick", "text-anchor": "end" }, axes, text);
  }
  svgElement("rect", { x: left, y: top, width: right - left, height: bottom - top, class: "frame" }, axes);
  if (spec.xlabel) svgElement("text", { x: (left + right) / 2, y: height - 6, class: "label", "text-anchor": "middle" }, axes, spec.xlabel);
  if (spec.ylabel) {
    svgElement("text", { x: 12, y: (top + bottom) / 2, class: "label", "text-anchor": "middle", transform: `rotate(-90 12 ${(top + bottom) / 2})` }, axes, spec.ylabel);
  }

  const layer = svgElement("g", { "clip-path": `url(#${clipId})` }, svg);
  for (const mark of spec.vlines || []) {
    svgElement("line", { x1: px(mark.x), x2: px(mark.x), y1: top, y2: bottom, stroke: mark.color, "stroke-dasharray": mark.dash || "", class: "mark" }, layer);
    if (mark.label) svgElement("text", { x: px(mark.x) + 4, y: top + 12, class: "mark-label", fill: mark.color }, layer, mark.label);
  }
  for (const line of spec.series || []) {
    let d = "";
    let pen = "M";
    for (const point of line.points) {
      const ok = point && point[1] !== null && Number.isFinite(point[1]) && (!log || point[1] > 0);
      if (!ok) { pen = "M"; continue; }
      d += `${pen}${px(point[0]).toFixed(1)},${py(point[1]).toFixed(1)}`;
      pen = "L";
    }
    svgElement("path", { d, fill: "none", stroke: line.color, "stroke-width": line.width || 2, "stroke-dasharray": line.dash || "", class: line.class || "" }, layer);
  }
  for (const dot of spec.dots || []) {
    svgElement("circle", { cx: px(dot.x), cy: py(dot.y), r: dot.r || 5, fill: dot.color, class: dot.class || "" }, layer);
  }
  return {
    px,
    py,
    // The data x under a pixel x of the svg's own coordinates.
    xAt: (pixel) => x0 + ((pixel - left) / (right - left)) * (x1 - x0),
  };
}

// The smallest and largest finite values of several arrays (for an axis), padded a little.
export function extent(arrays, { pad = 0.06, positive = false } = {}) {
  let lo = Infinity, hi = -Infinity;
  for (const values of arrays) {
    for (const v of values) {
      if (v === null || !Number.isFinite(v) || (positive && v <= 0)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (lo === Infinity) return positive ? [0.01, 1] : [-1, 1];
  if (positive) return [lo / 1.3, hi * 1.3];
  if (hi === lo) return [lo - 1, hi + 1];
  const margin = (hi - lo) * pad;
  return [lo - margin, hi + margin];
}
