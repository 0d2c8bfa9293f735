"""The lab's web app: Starlette routes over the panels' modules, JSON in and out.

    GET  /                                the page
    GET  /static/...                      its scripts and styles (served from the package)
    GET  /api/activations                 the explorer's menu and the server's limits
    POST /api/graph                       {expression, values?, step?}: the expression panel
    POST /api/activation                  {name, z, params?, half_width?}: the explorer
    POST /api/sessions                    {}: a new session, one per tab
    GET  /api/sessions/{id}/train         the session's run, everything so far
    POST /api/sessions/{id}/train         {action: reset|play|pause|step, settings?, steps?}
    GET  /api/sessions/{id}/events        the run, live, as server-sent events
    POST /api/sessions/{id}/close         the tab is going away

Every refusal is a 4xx with a JSON body ``{"error": "one line"}``, unknown paths and methods too.
In front of the routes, `gate.RequestGate` refuses requests that did not come from the lab's own
page and bounds each session's requests in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import time
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tinygrad_act import settings
from tinygrad_act.activations import LECTURE
from tinygrad_act.expression import allowed_functions
from tinygrad_act.lab import limits, schema
from tinygrad_act.lab.explorer import describe, elementwise_activations, explore, slide_points
from tinygrad_act.lab.gate import LOOPBACK_HOSTS, RequestGate
from tinygrad_act.lab.graph_panel import graph_view
from tinygrad_act.lab.schema import LabError
from tinygrad_act.lab.sessions import SessionStore
from tinygrad_act.lab.training import Settings
from tinygrad_act.training import one_blas_thread

STATIC = Path(__file__).resolve().parent / "static"
log = logging.getLogger("tinygrad_act.lab")

# The page's own origin only: no inline script, nothing from elsewhere.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; object-src 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


# ---- responses --------------------------------------------------------------------------------


def _json_safe(value):
    """Non-finite floats as null: JSON has no NaN (the page shows the text the server wrote)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def answer(content, status=200):
    return JSONResponse(_json_safe(content), status_code=status, headers=SECURITY_HEADERS)


def refusal(message, status):
    return JSONResponse({"error": " ".join(str(message).split())}, status, SECURITY_HEADERS)


async def read_body(request):
    """The JSON object a request carries, read no further than the body limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.MAX_BODY_BYTES:
        raise LabError(f"request body too large (limit {limits.MAX_BODY_BYTES} bytes)", 413)
    chunks, size = [], 0
    try:
        with anyio.fail_after(limits.REQUEST_SECONDS):  # a body sent slowly holds a connection
            async for chunk in request.stream():
                size += len(chunk)
                if size > limits.MAX_BODY_BYTES:
                    raise LabError(
                        f"request body too large (limit {limits.MAX_BODY_BYTES} bytes)", 413
                    )
                chunks.append(chunk)
    except TimeoutError:
        raise LabError(
            f"the request body did not arrive within {limits.REQUEST_SECONDS:g} s", 408
        ) from None
    return schema.parse_json(b"".join(chunks))


# ---- the request bodies ------------------------------------------------------------------------

_VALUES = schema.mapping(schema.number(), limits.MAX_VARIABLES * 4, key_kind="a variable name")
GRAPH = {
    "required": {"expression": schema.text(limits.MAX_EXPRESSION_LENGTH)},
    "optional": {
        "values": _VALUES,
        "step": schema.optional(schema.integer(0, limits.MAX_STEP_FRAME_OPS + 1)),
    },
}
ACTIVATION = {
    "required": {"name": schema.text(100), "z": schema.number(*limits.Z_RANGE)},
    "optional": {
        "params": schema.mapping(schema.number(), 8, key_kind="a parameter name"),
        "half_width": schema.number(*limits.PLOT_HALF_WIDTHS),
    },
}


def _settings(value, where):
    """A run's settings: the fields are named here, their values checked by `Settings` (the
    library's checks), whose refusal is passed on in its own words."""
    given = schema.record({}, dict.fromkeys(SETTINGS_FIELDS, _as_given))(value, where)
    try:
        return Settings(**given)
    except ValueError as err:
        raise LabError(f"{where}: {err}") from None


SETTINGS_FIELDS = [f.name for f in dataclasses.fields(Settings)]


def _as_given(value, where):
    return value


TRAIN_ACTIONS = ("reset", "play", "pause", "step")
TRAIN = {
    "required": {"action": schema.choice(TRAIN_ACTIONS)},
    "optional": {
        "settings": _settings,
        "steps": schema.integer(1, limits.MAX_STEPS_PER_REQUEST),
    },
}


# ---- endpoints ----------------------------------------------------------------------------------


async def page(request):
    return FileResponse(
        STATIC / "index.html", headers={**SECURITY_HEADERS, "cache-control": "no-cache"}
    )


async def activations(request):
    return answer(
        {
            "activations": [describe(spec) for spec in elementwise_activations()],
            "lecture": list(LECTURE),
            "slide_points": slide_points(),
            "functions": list(allowed_functions()),
            "limits": {
                "expression_length": limits.MAX_EXPRESSION_LENGTH,
                "graph_nodes": limits.MAX_GRAPH_NODES,
                "variables": limits.MAX_VARIABLES,
                "slider_range": list(limits.SLIDER_RANGE),
                "number": limits.MAX_NUMBER,
                "z_range": list(limits.Z_RANGE),
                "datasets": list(settings.DATASETS),
                "depth": list(settings.bounds("depth")),
                "width": list(settings.bounds("width")),
                "lr": list(settings.bounds("lr")),
                "seed": list(settings.bounds("seed")),
                "networks": limits.MAX_NETWORKS,
                "steps": limits.MAX_STEPS,
                "steps_per_request": limits.MAX_STEPS_PER_REQUEST,
            },
            "defaults": Settings().as_dict(),
        }
    )


async def graph(request):
    body = schema.fields(await read_body(request), GRAPH["required"], GRAPH["optional"])
    view = await run_in_threadpool(
        graph_view, body["expression"], body.get("values", {}), body.get("step")
    )
    return answer(view)


async def activation(request):
    body = schema.fields(await read_body(request), ACTIVATION["required"], ACTIVATION["optional"])
    view = await run_in_threadpool(
        explore, body["name"], body["z"], body.get("params", {}), body.get("half_width")
    )
    return answer(view)


async def new_session(request):
    schema.fields(await read_body(request), {}, {})
    session = request.app.state.store.create()
    return answer({"session": session.id}, 201)


def _session(request):
    return request.app.state.store.get(request.path_params["sid"])


async def train_state(request):
    session = _session(request)
    return answer(await run_in_threadpool(session.snapshot))


async def train(request):
    session = _session(request)
    body = schema.fields(await read_body(request), TRAIN["required"], TRAIN["optional"])
    action = body["action"]
    extra = [key for key in body if key != "action"]
    allowed = {"reset": ["settings"], "step": ["steps"]}.get(action, [])
    if any(key not in allowed for key in extra):
        raise LabError(f"{extra[0]!r} does not go with action {action!r}")
    if action == "reset":
        session.pause()
        state = await run_in_threadpool(session.reset, body.get("settings", Settings()))
    elif action == "step":
        session.pause()
        state = await run_in_threadpool(session.step, body.get("steps", 1))
    elif action == "play":
        session.play(request.app.state.store.scheduler)
        state = await run_in_threadpool(session.snapshot)
    else:
        session.pause()
        state = await run_in_threadpool(session.snapshot)
    session.changed.set()
    return answer(state)


async def close(request):
    request.app.state.store.close(request.path_params["sid"])
    return answer({"closed": True})


async def events(request):
    session = _session(request)
    return EventStream(session, request.app.state.store, request.app.state.stopping)


class EventStream:
    """The session's run as server-sent events: everything first, then what is new.

    It watches for the client going away while it waits (Starlette's streaming response only
    notices at its next write), so a closed tab stops its run at once. A session has one stream:
    a newer one (the page reconnecting) ends the older.
    """

    def __init__(self, session, store, stopping):
        self.session = session
        self.store = store
        self.stopping = stopping  # true once the server shuts down: the stream then ends
        self.status_code = 200
        headers = {"content-type": "text/event-stream", "cache-control": "no-cache"}
        headers.update(SECURITY_HEADERS)  # no content-length: the stream has no end
        self.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def __call__(self, scope, receive, send):
        session = self.session
        session.streams += 1
        session.stream_id += 1
        self.stream_id = session.stream_id
        session.changed.set()  # an older stream of the session wakes up and ends
        session.detached_at = None
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        try:
            async with anyio.create_task_group() as group:

                async def watch():
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(watch)
                with contextlib.suppress(OSError):
                    await self._stream(send)  # returns when the stream ends
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                group.cancel_scope.cancel()
        finally:
            session.streams -= 1
            if session.streams == 0:
                session.detached_at = time.monotonic()
                session.pause()  # nobody is watching: the run stops with its tab

    def _ended(self):
        session = self.session
        return self.stopping() or session.closed or session.stream_id != self.stream_id

    async def _stream(self, send):
        session = self.session
        generation, sent = None, 0
        while not self._ended():
            began = time.monotonic()
            session.changed.clear()
            if session.run is not None:
                if generation != session.generation:
                    generation, sent = session.generation, 0
                state = await run_in_threadpool(session.snapshot, sent)
                sent = state["step"]
                await send(_event("train", state))
            else:
                await send(_comment("waiting for a run"))
            # A few events a second at most, fewer when many runs play: snapshots cost CPU time
            # that the runs and the other tabs' requests share.
            spacing = max(
                limits.STREAM_INTERVAL_SECONDS, limits.STREAM_SECONDS_PER_RUN * self.store.playing()
            )
            await asyncio.sleep(max(0.0, began + spacing - time.monotonic()))
            await self._wait()
            session.touch()

    async def _wait(self):
        """Until the session changes, a heartbeat is due, or the stream ends."""
        waited = 0.0
        while waited < limits.HEARTBEAT_SECONDS and not self._ended():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.session.changed.wait(), 0.25)
                return
            waited += 0.25


def _comment(text):
    return {"type": "http.response.body", "body": f": {text}\n\n".encode(), "more_body": True}


def _event(name, data):
    text = json.dumps(_json_safe(data), separators=(",", ":"), allow_nan=False)
    return {
        "type": "http.response.body",
        "body": f"event: {name}\ndata: {text}\n\n".encode(),
        "more_body": True,
    }


# ---- errors ----------------------------------------------------------------------------------------


async def lab_error(request, exc):
    return refusal(exc, exc.status)


async def http_error(request, exc):
    messages = {
        404: f"no such page: {request.url.path}",
        405: f"{request.method} is not allowed on {request.url.path}",
    }
    return refusal(messages.get(exc.status_code, exc.detail), exc.status_code)


async def client_gone(request, exc):  # nobody reads the answer: one line in the log
    log.warning("lab: a client went away during its request to %s", request.url.path)
    return refusal("the client went away", 400)


async def unexpected(request, exc):  # a bug: say so in one line, keep serving
    log.exception("lab: unexpected error on %s", request.url.path)
    return refusal(f"internal error: {type(exc).__name__}: {exc}", 500)


# ---- the app ---------------------------------------------------------------------------------------


def create_app(store=None, hosts=LOOPBACK_HOSTS):
    """The lab as an ASGI app; `store` holds its sessions (a fresh `SessionStore` by default);
    it answers requests addressed to `hosts` only (names or addresses, IPv6 in brackets)."""

    @contextlib.asynccontextmanager
    async def lifespan(app):
        one_blas_thread()  # for good: the server's other requests wait for the cores
        sweeper = asyncio.get_running_loop().create_task(_sweep(app.state.store))
        try:
            yield
        finally:
            sweeper.cancel()
            for session in list(app.state.store.sessions.values()):
                session.pause()
            await anyio.to_thread.run_sync(app.state.store.scheduler.stop)

    sid = "{sid:str}"
    routes = [
        Route("/", page),
        Route("/api/activations", activations),
        Route("/api/graph", graph, methods=["POST"]),
        Route("/api/activation", activation, methods=["POST"]),
        Route("/api/sessions", new_session, methods=["POST"]),
        Route(f"/api/sessions/{sid}/train", train_state, methods=["GET"]),
        Route(f"/api/sessions/{sid}/train", train, methods=["POST"]),
        Route(f"/api/sessions/{sid}/events", events),
        Route(f"/api/sessions/{sid}/close", close, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    store = store or SessionStore()
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestGate, hosts=hosts, sessions=store.sessions)],
        exception_handlers={
            LabError: lab_error,
            HTTPException: http_error,
            ClientDisconnect: client_gone,
            Exception: unexpected,
        },
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.stopping = lambda: False  # `server.build_server` asks uvicorn instead
    return app


SWEEP_SECONDS = 5.0  # how often gone tabs' sessions are looked for


async def _sweep(store):
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        store.sweep()
