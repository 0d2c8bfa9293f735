// The lab page: one session per tab, three panels, each asking the engine for what it shows.

import { get, post } from "./api.js";
import { ExplorerPanel } from "./explorer.js";
import { GraphPanel } from "./graph.js";
import { TrainingPanel } from "./training.js";

async function start() {
  const meta = await get("/api/activations");
  const { session } = await post("/api/sessions", {});
  // The tab is its session: closing it ends the session and stops its run.
  window.addEventListener("pagehide", () => {
    navigator.sendBeacon(`/api/sessions/${session}/close`, "{}");
  });
  window.lab = {
    session,
    graph: new GraphPanel(meta),
    explorer: new ExplorerPanel(meta),
    training: new TrainingPanel(meta, session),
  };
  document.body.dataset.ready = "true";
}

start().catch((error) => {
  const line = document.createElement("p");
  line.className = "error";
  line.setAttribute("role", "alert");
  line.textContent = `The lab could not start: ${error.message}`;
  document.querySelector("main").prepend(line);
});
