// The state a teacher shares lives in the address's #fragment: a link reproduces the view.
// Keys: e (expression), v (values "x1:2,w1:-3"), view ("code": the expression as code), a
// (activation), p (its parameters), z, ds, depth, width, acts ("sigmoid,relu"), lr, seed,
// compile ("off" when the step runs on the graph).

export function readState() {
  return new URLSearchParams(window.location.hash.slice(1));
}

export function writeState(updates) {
  const state = readState();
  for (const [key, value] of Object.entries(updates)) {
    if (value === null || value === undefined || value === "") state.delete(key);
    else state.set(key, String(value));
  }
  const hash = "#" + state.toString();
  history.replaceState(null, "", hash === "#" ? window.location.pathname : hash);
}

// "x1:2,w1:-3" <-> {x1: 2, w1: -3}; entries that are not name:number are skipped.
export function parsePairs(text) {
  const pairs = {};
  for (const item of (text || "").split(",")) {
    const [name, value] = item.split(":");
    const number = Number(value);
    if (name && /^[A-Za-z_]\w*$/.test(name) && value !== undefined && value !== "" && Number.isFinite(number)) {
      pairs[name] = number;
    }
  }
  return pairs;
}

export function formatPairs(pairs) {
  return Object.entries(pairs).map(([name, value]) => `${name}:${value}`).join(",");
}
