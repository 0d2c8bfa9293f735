"""The training panel as a widget: the lab's `Run` (one or two MLPs from the same seed), trained
in the kernel; play, pause, step, reset from the page or from Python; loss and accuracy curves,
the decision boundary and the activation health drawn from the run's snapshot.

>>> w = TrainingWidget(depth=2, width=8, activations=("sigmoid", "relu"))
>>> w.step(3)
>>> [len(h["loss"]) for h in w.history]
[3, 3]
>>> w.step(1000)
>>> w.error
'steps must lie in 1..50, got 1000'
"""

from __future__ import annotations

import dataclasses
import html
import threading
import time

import traitlets

from tinygrad_act.lab import limits, schema
from tinygrad_act.lab.schema import LabError
from tinygrad_act.lab.training import Run, Settings
from tinygrad_act.widgets.panel import Panel, module

PUBLISH_SECONDS = 0.25  # a playing run shows its progress at most this often
ACTIONS = ("reset", "play", "pause", "step")


def check_settings(given):
    """`Settings` from keyword arguments, as the lab makes them from a request: the fields named,
    their values checked by `Settings` itself, whose refusal is passed on in its own words."""
    names = [f.name for f in dataclasses.fields(Settings)]
    given = schema.record({}, dict.fromkeys(names, _as_given))(given, "settings")
    try:
        return Settings(**given)
    except ValueError as err:
        raise LabError(f"settings: {err}") from None


def _as_given(value, where):
    return value


class TrainingWidget(Panel):
    """`TrainingWidget(dataset="moons", depth=3, width=16, activations=("sigmoid", "relu"),
    lr=0.3, seed=0)`: `play()`, `pause()`, `step(n)`, `reset(**settings)`; `history` is each
    network's losses and accuracies so far, `state` the run's snapshot, `playing` and `error`."""

    _esm = module("training.js")
    settings = traitlets.Dict().tag(sync=True)
    state = traitlets.Dict().tag(sync=True)
    playing = traitlets.Bool(False).tag(sync=True)
    steps_per_second = traitlets.Float(0.0).tag(sync=True)
    max_steps_per_request = traitlets.Int(limits.MAX_STEPS_PER_REQUEST).tag(sync=True)

    def __init__(self, **settings):
        super().__init__()
        self._lock = threading.Lock()  # the run: one computation at a time
        self._player = None
        try:
            self._run = Run(check_settings(settings))
        except LabError as err:
            raise ValueError(str(err)) from None
        self.settings = self._run.settings.as_dict()
        self._publish()
        self.on_msg(self._message)

    @property
    def history(self):
        """Per network: its activation and the loss and accuracy after each step so far."""
        with self._lock:
            return [
                {"activation": n.activation, "loss": list(n.losses), "accuracy": list(n.accuracies)}
                for n in self._run.networks
            ]

    def step(self, n=1):
        """Pause, then train `n` steps (1 .. the lab's step button's limit)."""
        self._act(lambda: self._step(schema.integer(1, limits.MAX_STEPS_PER_REQUEST)(n, "steps")))

    def play(self):
        """Train in the kernel, in the background, until paused or the run's limits."""
        self._act(self._play)

    def pause(self):
        self._act(self._pause)

    def reset(self, **settings):
        """A new run, from these settings (the current ones where not given)."""
        self._act(lambda: self._reset(check_settings({**self.settings, **settings})))

    def _act(self, action):
        try:
            action()
            self.error = ""
        except LabError as err:
            self.error = str(err)

    def _step(self, n):
        self._pause()
        with self._lock:
            self._run.advance(max_steps=n)
        self._publish()

    def _reset(self, settings):
        run = Run(settings)
        self._pause()
        with self._lock:
            self._run = run
        self.settings = run.settings.as_dict()
        self._publish()

    def _play(self):
        if self._run.finished is not None:
            raise LabError(self._run.finished)
        if self._player is None:
            self.playing = True
            self._player = threading.Thread(target=self._train, daemon=True)
            self._player.start()

    def _pause(self):
        player, self._player = self._player, None
        if player is not None and player is not threading.current_thread():
            player.join()
            self._publish()  # the steps of its last chunk, before the page reads "paused"
        self.playing = False

    def _train(self):
        """The player: chunks of `CHUNK_SECONDS`, shown at most every `PUBLISH_SECONDS`."""
        me = threading.current_thread()
        shown, since, counted = time.perf_counter(), time.perf_counter(), 0
        while self._player is me:
            with self._lock:
                counted += self._run.advance(10**9, budget_seconds=limits.CHUNK_SECONDS)
                finished = self._run.finished
            now = time.perf_counter()
            if finished is not None or now - shown >= PUBLISH_SECONDS:
                self.steps_per_second = counted / max(now - since, 1e-9)
                since, counted, shown = now, 0, now
                self._publish()
            if finished is not None:
                self.error = finished
                self.playing = False
                self._player = None
            time.sleep(0)  # let the kernel's other threads (messages from the page) in

    def _publish(self):
        with self._lock:
            self.state = self._run.snapshot(0)

    def _message(self, _widget, content, _buffers):
        """The page's buttons, checked as the lab checks a train request."""
        try:
            body = schema.fields(
                content,
                {"action": schema.choice(ACTIONS)},
                {
                    "steps": schema.integer(1, limits.MAX_STEPS_PER_REQUEST),
                    "settings": schema.mapping(
                        _as_given, len(dataclasses.fields(Settings)), key_kind="a setting"
                    ),
                },
            )
        except LabError as err:
            self.error = str(err)
            return
        if body["action"] == "step":
            self.step(body.get("steps", 1))
        elif body["action"] == "reset":
            self.reset(**body.get("settings", {}))
        else:
            getattr(self, body["action"])()

    def static_html(self):
        rows = "".join(
            f"<tr><td>{html.escape(h['activation'])}</td><td>{len(h['loss'])}</td>"
            f"<td>{_last(h['loss'], '.4g')}</td><td>{_last(h['accuracy'], '.1%')}</td></tr>"
            for h in self.history
        )
        return (
            f'<div class="tga-static"><p>Training on {html.escape(self.settings["dataset"])}: '
            f"{self.settings['depth']} hidden layers of {self.settings['width']}, "
            f"learning rate {self.settings['lr']:g}</p>{self.error_html()}"
            "<table><tr><th>activation</th><th>steps</th><th>loss</th><th>accuracy</th></tr>"
            f"{rows}</table></div>"
        )


def _last(values, spec):
    return "–" if not values or values[-1] is None else format(values[-1], spec)
