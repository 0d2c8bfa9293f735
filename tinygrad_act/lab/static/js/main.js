// The lab page: one session per tab, three panels, each asking the engine for what it shows.

import { ApiError, get, post, showError, useSession } from "./api.js";
import { ExplorerPanel } from "./explorer.js";
import { GraphPanel } from "./graph.js";
import { TrainingPanel } from "./training.js";

async function start() {
  const meta = await get("/api/activations");
  const session = await newSession();
  window.lab = {
    session,
    graph: new GraphPanel(meta),
    explorer: new ExplorerPanel(meta),
    training: session ? new TrainingPanel(meta, session) : null,
  };
  document.body.dataset.ready = "true";
}

// The tab's session, or null when the server has none to give (it is full): then the
// expression and the explorer still work, and the training panel says why it cannot.
async function newSession() {
  let session;
  try {
    ({ session } = await post("/api/sessions", {}));
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    disableControls(document.getElementById("training-panel"));
    document.querySelector("#training-panel .curves").hidden = true; // no run to plot
    document.getElementById("train-status").textContent = "training is off in this tab";
    showError(document.getElementById("train-error"), new Error(`No training here: ${error.message}`));
    return null;
  }
  useSession(session);
  // The tab is its session: closing it ends the session and stops its run.
  window.addEventListener("pagehide", () => {
    fetch(`/api/sessions/${session}/close`, {
      method: "POST",
      keepalive: true, // the request outlives the page
      headers: { "content-type": "application/json" },
      body: "{}",
    });
  });
  return session;
}

function disableControls(root) {
  for (const control of root.querySelectorAll("button, input, select")) control.disabled = true;
}

start().catch((error) => {
  const line = document.createElement("p");
  line.className = "error";
  line.setAttribute("role", "alert");
  line.textContent = `The lab could not start: ${error.message}`;
  document.querySelector("main").prepend(line);
  disableControls(document.querySelector("main")); // nothing on the page can work
});
