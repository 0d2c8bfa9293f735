// Talking to the lab server: JSON in, JSON out; a refusal becomes an ApiError with its one line.

export class ApiError extends Error {}

// This tab's session, named in every request: the server bounds each tab's requests in flight.
let session = null;
export function useSession(id) {
  session = id;
}

function headers(body) {
  const out = body === undefined ? {} : { "content-type": "application/json" };
  if (session) out["x-lab-session"] = session;
  return out;
}

async function call(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: headers(body),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError("the lab server is not answering: is `tinygrad-act lab` still running?");
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    throw new ApiError(`the server answered ${response.status} without JSON`);
  }
  if (!response.ok) {
    throw new ApiError(data && data.error ? data.error : `the server answered ${response.status}`);
  }
  return data;
}

export const get = (path) => call("GET", path);
export const post = (path, body = {}) => call("POST", path, body);

// Send the latest request only: while one is in flight, newer inputs replace each other, and the
// last one goes out when the answer arrives. A slider dragged fast never queues up stale work.
export class Latest {
  constructor(send, show, fail) {
    this.send = send;
    this.show = show;
    this.fail = fail;
    this.pending = null;
    this.busy = false;
  }

  request(input) {
    this.pending = input;
    if (!this.busy) this.next();
  }

  async next() {
    const input = this.pending;
    this.pending = null;
    if (input === null) return;
    this.busy = true;
    try {
      const answer = await this.send(input);
      if (this.pending === null) this.show(answer, input);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (this.pending === null) this.fail(error, input);
    } finally {
      this.busy = false;
    }
    if (this.pending !== null) this.next();
  }
}

// Show a panel's error line, or hide it.
export function showError(element, error) {
  element.hidden = !error;
  element.textContent = error ? error.message : "";
}
