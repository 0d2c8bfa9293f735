"""One session per browser tab: its training run, who is watching it, and the bounds on both.

A session is made when a page loads and removed when its tab goes away: the page says so as it
closes, and a session whose event stream has closed, or that has seen no request for a long time,
is swept away by `SessionStore.sweep`. A playing run trains in short chunks on a worker thread
(`Session.play`) and stops when it is paused, reaches its limits, or its session ends.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time

import anyio

from tinygrad_act.lab import limits
from tinygrad_act.lab.schema import LabError
from tinygrad_act.lab.training import Run

STEPS_PER_TICK = 4  # a playing run shows about STEPS_PER_TICK / TICK_SECONDS steps a second
TICK_SECONDS = 0.04


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
        self.detached_at = None  # when the last stream closed
        self.changed = asyncio.Event()  # set whenever there is something new to stream
        self.closed = False  # its tab has gone: the player and the stream end
        self._player = None

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
            state.update(generation=self.generation, playing=self.playing, message=self.message)
            return state

    def _advance_chunk(self):
        with self.lock:
            run = self.run
            if run is None:
                return "no run"
            run.advance(STEPS_PER_TICK, budget_seconds=limits.CHUNK_SECONDS)
            self.message = run.finished
            return run.finished

    def _need_run(self):
        if self.run is None:
            raise LabError("no training run yet: reset (choose the settings) first")
        return self.run

    # ---- playing, on the event loop ----------------------------------------------------------

    def play(self, store):
        """Start training in the background; refused past the server's limit of playing runs."""
        if self.playing:
            return
        self._need_run()
        if self.run.finished:
            raise LabError(self.run.finished)
        if self._player is not None and not self._player.done():
            self.playing = True  # paused a moment ago, its last chunk still running: go on
            return
        store.claim_player(self)
        self.playing = True
        self._player = asyncio.get_running_loop().create_task(self._play(store))

    async def _play(self, store):
        try:
            while self.playing and not self.closed:
                began = time.monotonic()
                stopped = await anyio.to_thread.run_sync(self._advance_chunk)
                self.changed.set()
                if stopped:
                    break
                await asyncio.sleep(max(0.0, TICK_SECONDS - (time.monotonic() - began)))
        finally:
            self.playing = False
            store.release_player(self)
            self.changed.set()

    def pause(self):
        self.playing = False  # the player stops after its chunk
        self.changed.set()

    def touch(self):
        self.last_seen = time.monotonic()


class SessionStore:
    """Every session of the server, bounded in number; playing runs bounded over all of them."""

    def __init__(self, max_sessions=limits.MAX_SESSIONS, max_playing=limits.MAX_PLAYING):
        self.sessions = {}
        self.players = set()
        self.max_sessions, self.max_playing = max_sessions, max_playing

    def create(self):
        if len(self.sessions) >= self.max_sessions:
            self.sweep()
        if len(self.sessions) >= self.max_sessions:
            raise LabError(
                f"the lab already has {self.max_sessions} open sessions (its limit); "
                "close a tab or try again later",
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

    def claim_player(self, session):
        if len(self.players) >= self.max_playing:
            raise LabError(
                f"{self.max_playing} runs are training on this server already (its limit); "
                "pause one or try again in a moment",
                429,
            )
        self.players.add(session.id)

    def release_player(self, session):
        self.players.discard(session.id)

    def sweep(self, now=None):
        """Remove sessions whose tab has gone: stream closed a while ago, or idle for long."""
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
