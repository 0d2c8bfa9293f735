"""Training time shared fairly: every playing run gets its turn, round-robin, on a few threads.

A run that plays is queued; each worker thread takes the run at the head of the queue, trains
it for one short chunk and puts it back at the tail. So with k runs playing each gets about
1/k of the workers' time and slows down gracefully as more students press play: no run is
refused and none waits for another to finish. There are fewer workers than cores
(`training_workers`: the lab's requests need the rest), and a run trains at most one chunk
per `min_interval` seconds, so a lone run does not take a core for itself.

>>> import threading
>>> done = threading.Event()
>>> class Count:
...     n = 0
...     def turn(self):
...         self.n += 1
...         if self.n == 3: done.set()
...     def wants_turn(self):
...         return self.n < 3
>>> scheduler = Scheduler(workers=1, min_interval=0.0)
>>> job = Count()
>>> scheduler.add(job)
>>> done.wait(5), job.n
(True, 3)
>>> scheduler.stop()
"""

from __future__ import annotations

import collections
import os
import threading
import time


def cores():
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (macOS, Windows)
        return os.cpu_count() or 1


def training_workers():
    """Threads that train: fewer than the cores, so one is left for the requests and Graphviz,
    and at most two: the interpreter runs one thread's Python at a time, so more trainers would
    only take turns from the requests (measured: 1 or 2 give the same steps per second)."""
    return max(1, min(2, cores() - 1))


class Scheduler:
    """Round-robin over jobs on `workers` threads. A job has ``turn()``, one chunk of work, and
    ``wants_turn()``, whether it should get another (asked under the scheduler's lock)."""

    def __init__(self, workers=None, min_interval=0.04):
        self.workers = workers or training_workers()
        self.min_interval = min_interval
        self._queue = collections.deque()  # (job, not before), oldest turn first
        self._members = set()  # queued or on a worker right now
        self._ready = threading.Condition()
        self._threads = []
        self._stopping = False

    def add(self, job):
        """Give `job` turns until it declines one; a job already playing is not added twice."""
        with self._ready:
            if self._stopping or id(job) in self._members:
                return
            self._members.add(id(job))
            self._queue.append((job, 0.0))
            self._ready.notify()
            if not self._threads:
                self._start()

    def __len__(self):
        """The jobs playing now."""
        return len(self._members)

    def stop(self):
        """Finish the chunks on the workers now, then end them; later `add` calls do nothing."""
        with self._ready:
            self._stopping = True
            self._queue.clear()
            self._ready.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)

    def _start(self):
        for k in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"lab-trainer-{k}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _work(self):
        while True:
            with self._ready:
                job = self._next()
                if job is None:
                    return
            try:
                job.turn()
                failed = False
            except Exception:  # a bug in one run must not stop the others' training
                failed = True
            with self._ready:  # decided under the lock, so a play racing a pause is never lost
                if not failed and not self._stopping and job.wants_turn():
                    self._queue.append((job, time.monotonic() + self.min_interval))
                    self._ready.notify()
                else:
                    self._members.discard(id(job))

    def _next(self):
        """The job whose turn it is, waiting until one is due; None once stopping."""
        while not self._stopping:
            if not self._queue:
                self._ready.wait()
                continue
            job, due = self._queue[0]
            wait = due - time.monotonic()
            if wait > 0:
                self._ready.wait(wait)
                continue
            self._queue.popleft()
            return job
        return None
