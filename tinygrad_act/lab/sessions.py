"""One session per browser tab: its training run, who is watching it, and the bounds on both.

A session is made when a page loads and removed when its tab goes away: the page says so as it
closes, and a session whose event stream has closed, or that has neither a stream nor a request
for `limits.SESSION_IDLE_SECONDS`, is swept away by `SessionStore.sweep`. A playing run trains in
turns given by the store's `Scheduler` (round-robin over every playing run) and stops when it is
paused, reaches its limits, or its session ends.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import secrets
import threading
import time

from tinygrad_act.lab import limits
from tinygrad_act.lab.scheduler import Scheduler
from tinygrad_act.lab.schema import LabError
from tinygrad_act.lab.training import Run

STEPS_PER_TICK = 4  # a lone playing run shows about STEPS_PER_TICK / TICK_SECONDS steps a second
TICK_SECONDS = 0.04
RATE_WINDOW_SECONDS = 3.0  # steps per second are measured over this last stretch of play


class Session:
    """A tab's state. `lock` guards the run: requests and the player change it on worker threads."""

    def __init__(self, sid):
        self.id = sid
        self.lock = threading.Lock()
        self.run = None
        self.generation = 0  # bumped by every reset: a stream then resends everything
        self.playing = False
        self.message = None  # why the run stopped, shown on the page
        self.last_seen = time.monotonic()
        self.streams = 0
        self.stream_id = 0  # the newest stream's number: an older stream of the session ends
        self.detached_at = None  # when the last stream closed
        self.changed = asyncio.Event()  # set whenever there is something new to stream
        self.closed = False  # its tab has gone: its turns and its stream end
        self._loop = None  # the event loop its stream waits on (training turns run elsewhere)
        self._played = collections.deque(maxlen=200)  # (time, step) of recent turns: steps/s

    # ---- training, on worker threads ------------------------------------------------------------

    def reset(self, settings):
        run = Run(settings)  # outside the lock: loading the data takes a moment
        with self.lock:
            self.run = run
            self.generation += 1
            self.message = None
        return self.snapshot()

    def step(self, count):
        with self.lock:
            run = self._need_run()
            run.advance(count)
            self.message = run.finished
        return self.snapshot()

    def snapshot(self, since=0):
        with self.lock:
            run = self._need_run()
            state = run.snapshot(since)
            state.update(
                generation=self.generation,
                playing=self.playing,
                message=self.message,
                steps_per_second=self._steps_per_second() if self.playing else None,
            )
            return state

    # ---- the scheduler's turns, on its worker threads -------------------------------------------

    def turn(self):
        """One chunk of training (a few steps, at most `limits.CHUNK_SECONDS`)."""
        with self.lock:
            run = self.run
            if run is None or not self.playing:
                return
            run.advance(STEPS_PER_TICK, budget_seconds=limits.CHUNK_SECONDS)
            self.message = run.finished
            if run.finished:
                self.playing = False
            self._played.append((time.monotonic(), run.steps))
        self._notify()

    def wants_turn(self):
        return self.playing and not self.closed

    def _steps_per_second(self):
        now = time.monotonic()
        while self._played and now - self._played[0][0] > RATE_WINDOW_SECONDS:
            self._played.popleft()
        if len(self._played) < 2:
            return None
        (t0, s0), (t1, s1) = self._played[0], self._played[-1]
        return (s1 - s0) / max(now - t0, t1 - t0) if t1 > t0 else None

    def _notify(self):
        """Wake the stream (it waits on the event loop; this runs on a worker thread)."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the server has stopped: nobody waits
                self._loop.call_soon_threadsafe(self.changed.set)

    def _need_run(self):
        if self.run is None:
            raise LabError("no training run yet: reset (choose the settings) first")
        return self.run

    # ---- playing, on the event loop ----------------------------------------------------------

    def play(self, scheduler):
        """Train in turns with every other playing run until paused, finished or closed."""
        self._need_run()
        if self.run.finished:
            raise LabError(self.run.finished)
        if not self.playing:
            self._played.clear()
        self._loop = asyncio.get_running_loop()
        self.playing = True
        scheduler.add(self)  # nothing happens if its last turn is still queued or running

    def pause(self):
        self.playing = False  # the player stops after its chunk
        self.changed.set()

    def touch(self):
        self.last_seen = time.monotonic()


class SessionStore:
    """Every session of the server, bounded in number; their runs share one `Scheduler`."""

    def __init__(self, max_sessions=limits.MAX_SESSIONS, scheduler=None):
        self.sessions = {}
        self.max_sessions = max_sessions
        self.scheduler = scheduler or Scheduler(min_interval=TICK_SECONDS)

    def create(self):
        if len(self.sessions) >= self.max_sessions:
            self.sweep()
        if len(self.sessions) >= self.max_sessions:
            raise LabError(
                f"the lab is full: it has {self.max_sessions} open sessions, one per tab (its "
                "limit); close a tab or try again later",
                429,
            )
        sid = secrets.token_urlsafe(12)
        self.sessions[sid] = Session(sid)
        return self.sessions[sid]

    def get(self, sid):
        session = self.sessions.get(sid)
        if session is None:
            raise LabError(
                "no such session (it was closed or timed out); reload the page to start a new one",
                404,
            )
        session.touch()
        return session

    def close(self, sid):
        session = self.sessions.pop(sid, None)
        if session is not None:
            session.closed = True
            session.pause()

    def playing(self):
        """How many runs are training now."""
        return len(self.scheduler)

    def sweep(self, now=None):
        """Remove sessions whose tab has gone: stream closed a while ago, or no stream and no
        request for long (a session made by a script that never opened the page)."""
        now = time.monotonic() if now is None else now
        for sid, session in list(self.sessions.items()):
            detached = (
                session.streams == 0
                and session.detached_at is not None
                and now - session.detached_at > limits.DETACHED_SECONDS
            )
            idle = session.streams == 0 and now - session.last_seen > limits.SESSION_IDLE_SECONDS
            if detached or idle:
                self.close(sid)
