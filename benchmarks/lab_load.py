"""A class on the lab: N students at once, on loopback, for a bounded time.

    python benchmarks/lab_load.py [--students 10,30,60] [--seconds 40] [--mix 2000]

Starts ``tinygrad-act lab`` on 127.0.0.1 (a fresh server per N) and simulates N students, each a
browser tab: it opens a session and its event stream, resets and plays a training run, moves a
slider of the lecture's neuron every 2 s (``POST /api/graph``) and explores an activation every
4 s (``POST /api/activation``). After a ramp-up it measures, for `--seconds`:

- the slider update's latency, request to answer, p50 and p95 over all students;
- each run's steps per second, from the steps its stream reports (min and median over runs);
- errors (5xx, dropped connections, timeouts) and refusals (4xx).

``--mix N`` runs instead the reliability sweep's mixed run: N requests of every kind (good and
bad bodies, foreign hosts and origins, bodies cut off mid-way, heads never finished, streams
opened and dropped) and reports the server's threads, memory and file descriptors before,
right after, and once idle connections have timed out. Everything stays on 127.0.0.1 and stops
by itself; the load generator shares the machine's cores with the server, as the docs say.

The tests run `run_class` for 8 students over a few seconds and check correctness only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
NEURON = "tanh(x1*w1 + x2*w2 + b)"
VALUES = {"x1": 2.0, "w1": -3.0, "x2": 0.0, "w2": 1.0, "b": 6.8813735870195432}
SLIDER_SECONDS = 2.0
EXPLORE_SECONDS = 4.0
TIMEOUT = 30.0  # one request; past it, an error


# ---- a small HTTP/1.1 client on asyncio streams ------------------------------------------------


class Connection:
    """One keep-alive connection to the lab, as a browser holds one: requests in turn."""

    def __init__(self, host, port, session=None):
        self.host, self.port = host, port
        self.session = session
        self.reader = self.writer = None

    async def request(self, method, path, body=None):
        """(status, parsed JSON); a connection the server closed while idle is reopened once."""
        for attempt in (1, 2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            try:
                self.writer.write(self._head(method, path, body))
                await self.writer.drain()
                return await asyncio.wait_for(self._answer(), TIMEOUT)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt == 2:
                    raise
        return None

    def _head(self, method, path, body):
        data = b"" if body is None else json.dumps(body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"host: 127.0.0.1:{self.port}"]
        if body is not None:
            lines += ["content-type: application/json", f"content-length: {len(data)}"]
        if self.session:
            lines.append(f"x-lab-session: {self.session}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + data

    async def _answer(self):
        status, headers = await read_head(self.reader)
        size = int(headers.get("content-length", 0))
        data = await self.reader.readexactly(size)
        if headers.get("connection") == "close":
            await self.close()
        return status, json.loads(data) if data else None

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        self.reader = self.writer = None


async def read_head(reader):
    line = await reader.readuntil(b"\r\n")
    status = int(line.split()[1])
    headers = {}
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


# ---- the students ----------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the students saw."""

    slider_ms: list = field(default_factory=list)  # in the measured window
    runs: dict = field(default_factory=dict)  # session -> [(time, step)] from its stream
    errors: list = field(default_factory=list)
    refusals: list = field(default_factory=list)
    requests: int = 0

    def check(self, what, status, answer):
        self.requests += 1
        if status >= 500:
            self.errors.append(f"{what}: {status} {answer}")
        elif status >= 400:
            self.refusals.append(f"{what}: {status} {answer}")
        return 200 <= status < 300


async def student(k, url, tally, window, stop):
    """One tab: session, stream, a playing run, a slider every 2 s, the explorer every 4 s."""
    parts = urlsplit(url)
    rng = random.Random(k)
    await asyncio.sleep(rng.uniform(0, SLIDER_SECONDS))  # students do not all click at once
    conn = Connection(parts.hostname, parts.port)
    stream = None
    try:
        status, answer = await conn.request("POST", "/api/sessions", {})
        if not tally.check("session", status, answer):
            return
        sid = conn.session = answer["session"]
        tally.runs[sid] = []
        ok = tally.check(
            "reset", *await conn.request("POST", f"/api/sessions/{sid}/train", {"action": "reset"})
        )
        stream = asyncio.create_task(watch(parts, sid, tally.runs[sid], tally, stop))
        if ok:
            tally.check(
                "play",
                *await conn.request("POST", f"/api/sessions/{sid}/train", {"action": "play"}),
            )
        tick = 0
        while not stop.is_set():
            began = time.monotonic()
            values = {**VALUES, "w1": round(rng.uniform(-5, 5), 2)}
            status, answer = await conn.request(
                "POST", "/api/graph", {"expression": NEURON, "values": values}
            )
            took = time.monotonic() - began
            if (
                tally.check("slider", status, answer)
                and window[0] <= began
                and began + took <= window[1]
            ):
                tally.slider_ms.append(1000 * took)
            if tick % round(EXPLORE_SECONDS / SLIDER_SECONDS) == 1:
                name = rng.choice(["sigmoid", "tanh", "relu", "leaky_relu"])
                body = {"name": name, "z": round(rng.uniform(-4, 4), 2)}
                tally.check("explore", *await conn.request("POST", "/api/activation", body))
            tick += 1
            with_rest = SLIDER_SECONDS - (time.monotonic() - began)
            try:
                await asyncio.wait_for(stop.wait(), max(0.0, with_rest))
            except TimeoutError:
                pass
        tally.check(
            "pause", *await conn.request("POST", f"/api/sessions/{sid}/train", {"action": "pause"})
        )
        tally.check("close", *await conn.request("POST", f"/api/sessions/{sid}/close", {}))
    except (OSError, asyncio.IncompleteReadError, TimeoutError) as err:
        tally.errors.append(f"student {k}: {type(err).__name__}: {err}")
    finally:
        await conn.close()
        if stream is not None:
            await stream


async def watch(parts, sid, steps, tally, stop):
    """The tab's event stream: (time, step) of every training event until `stop`."""
    try:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    except OSError as err:
        tally.errors.append(f"stream {sid}: {err}")
        return
    try:
        head = f"GET /api/sessions/{sid}/events HTTP/1.1\r\nhost: 127.0.0.1:{parts.port}\r\n\r\n"
        writer.write(head.encode())
        status, _ = await asyncio.wait_for(read_head(reader), TIMEOUT)
        if not tally.check("stream", status, "(the stream)"):
            return
        event = None
        while not stop.is_set():
            try:
                line = await asyncio.wait_for(reader.readline(), 0.5)
            except TimeoutError:
                continue
            if not line:
                tally.errors.append(f"stream {sid}: ended early")
                return
            if line.startswith(b"event: "):
                event = line[7:].strip()
            elif line.startswith(b"data: ") and event == b"train":
                steps.append((time.monotonic(), json.loads(line[6:])["step"]))
    except (OSError, asyncio.IncompleteReadError, TimeoutError) as err:
        tally.errors.append(f"stream {sid}: {type(err).__name__}: {err}")
    finally:
        writer.close()


async def _class(url, students, seconds, ramp):
    tally = Tally()
    stop = asyncio.Event()
    start = time.monotonic()
    window = (start + ramp, start + ramp + seconds)
    tasks = [asyncio.create_task(student(k, url, tally, window, stop)) for k in range(students)]
    await asyncio.sleep(ramp + seconds)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    return tally, window


def run_class(url, students, seconds, ramp=None):
    """Simulate `students` tabs on the lab at `url` for `seconds` (after a ramp-up); the summary."""
    ramp = SLIDER_SECONDS + 4.0 if ramp is None else ramp
    began = time.monotonic()
    tally, (t0, t1) = asyncio.run(_class(url, students, seconds, ramp))
    wall = time.monotonic() - began
    rates = {}
    for sid, seen in tally.runs.items():
        inside = [(t, s) for t, s in seen if t0 <= t <= t1]
        rates[sid] = (
            (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])
            if len(inside) >= 2
            else 0.0
        )
    latencies = sorted(tally.slider_ms)
    return {
        "students": students,
        "seconds": seconds,
        "wall": wall,
        "requests": tally.requests,
        "slider_p50_ms": statistics.median(latencies) if latencies else math.nan,
        "slider_p95_ms": latencies[math.ceil(0.95 * len(latencies)) - 1] if latencies else math.nan,
        "slider_updates": len(latencies),
        "steps_per_second_min": min(rates.values(), default=0.0),
        "steps_per_second_median": statistics.median(rates.values()) if rates else 0.0,
        "runs": len(rates),
        "errors": tally.errors,
        "refusals": tally.refusals,
    }


# ---- the reliability sweep's mixed run --------------------------------------------------------------


def _raw(port, data, read=True, linger=0.0):
    """Send bytes on a fresh connection; the status code answered (0 if none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        if linger:
            time.sleep(linger)
        if not read:
            return 0
        first = sock.recv(64)
        return int(first.split()[1]) if first.startswith(b"HTTP/1.1") else 0


def _post(port, path, body, host="127.0.0.1", extra="", session=None):
    if session:
        extra += f"x-lab-session: {session}\r\n"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(data)}\r\nconnection: close\r\n{extra}\r\n"
    )
    return head.encode() + data


def mix(port, total, seed=0):
    """`total` requests of every kind, 8 at once from 4 tabs; the statuses answered, by kind."""
    rng = random.Random(seed)
    graph = {"expression": NEURON, "values": VALUES}
    tabs = [_json(port, _post(port, "/api/sessions", {}))["session"] for _ in range(4)]

    def good(path, body):
        return _raw(port, _post(port, path, body, session=rng.choice(tabs)))

    kinds = {
        "graph": lambda: good("/api/graph", graph),
        "explore": lambda: good("/api/activation", {"name": "tanh", "z": 0.5}),
        "train": lambda: _train_round(port),
        "bad json": lambda: _raw(port, _post(port, "/api/graph", b"{nope")),
        "foreign host": lambda: _raw(port, _post(port, "/api/sessions", {}, host="evil.example")),
        "foreign origin": lambda: _raw(
            port, _post(port, "/api/sessions", {}, extra="origin: http://evil.example\r\n")
        ),
        "cut body": lambda: _raw(
            port, _post(port, "/api/graph", graph)[:-10], read=False, linger=0.05
        ),
        "unfinished head": lambda: _raw(
            port, f"GET / HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n".encode(), read=False
        ),
        "stream dropped": lambda: _stream_dropped(port),
    }
    weights = [40, 15, 8, 10, 5, 5, 8, 4, 5]
    names = rng.choices(list(kinds), weights, k=total)
    counts = {}
    from concurrent.futures import ThreadPoolExecutor

    def one(name):
        try:
            status = kinds[name]()
        except OSError as err:
            status = type(err).__name__
        return name, status

    with ThreadPoolExecutor(max_workers=8) as pool:
        for name, status in pool.map(one, names):
            counts.setdefault(name, {}).setdefault(status, 0)
            counts[name][status] += 1
    return counts


def _json(port, data):
    """The JSON answer to one request (on its own connection, closed by the server)."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return {"status": int(head.split()[1]), **json.loads(body)}


def _train_round(port):
    """A tab's life: a session, a run reset, played a moment, stepped, paused, closed."""
    made = _json(port, _post(port, "/api/sessions", {}))
    if made["status"] != 201:
        return made["status"]
    train = f"/api/sessions/{made['session']}/train"
    for body in ({"action": "reset", "settings": {"depth": 1, "width": 4}}, {"action": "play"}):
        _json(port, _post(port, train, body))
    time.sleep(0.1)
    for body in ({"action": "step", "steps": 2}, {"action": "pause"}):
        status = _json(port, _post(port, train, body))["status"]
    _json(port, _post(port, f"/api/sessions/{made['session']}/close", {}))
    return status


def _stream_dropped(port):
    """A tab that opens its stream and vanishes (its session stays until swept: 30 s)."""
    made = _json(port, _post(port, "/api/sessions", {}))
    if made["status"] != 201:
        return made["status"]  # the lab is full of vanished tabs for now
    sid = made["session"]
    head = f"GET /api/sessions/{sid}/events HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\r\n"
    return _raw(port, head.encode(), linger=0.05)  # read the head, then hang up


def server_cpu(pid):
    """CPU seconds the server and its children (Graphviz's dot) have used so far."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def resources(pid):
    """The server process's threads, resident memory (MB) and open file descriptors."""
    import psutil

    process = psutil.Process(pid)
    return {
        "threads": process.num_threads(),
        "rss_mb": round(process.memory_info().rss / 2**20, 1),
        "fds": process.num_fds(),
    }


# ---- the server --------------------------------------------------------------------------------


class Lab:
    """``tinygrad-act lab`` on 127.0.0.1 at a free port, as a subprocess (its own process, so its
    threads, memory and descriptors are its own)."""

    def __enter__(self):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tinygrad_act", "lab", "--no-browser", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("tinygrad_act lab: http://127.0.0.1:"):
            self.proc.kill()
            raise RuntimeError(f"the lab did not start: {line!r} {self.proc.stderr.read()[-500:]}")
        self.url = line.split()[2]
        self.port = urlsplit(self.url).port
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(2)  # Ctrl-C
        try:
            _, self.stderr = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, self.stderr = self.proc.communicate()


# ---- the command ---------------------------------------------------------------------------------


def _class_table(students, seconds):
    print(
        f"{os.cpu_count()} cores; {seconds:g} s measured per class after a ramp-up; loopback. "
        "Server CPU: the cores the lab (and its Graphviz runs) got; load average: the machine's "
        "over the last minute, the lab and this benchmark included (well above 2 on 2 cores: "
        "other work was competing for them)."
    )
    print(
        "| students | slider p50 | slider p95 | steps/s min | steps/s median | errors | refusals "
        "| server CPU | load average |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in students:
        with Lab() as lab:
            cpu0 = server_cpu(lab.proc.pid)
            result = run_class(lab.url, n, seconds)
            result["server_cpu"] = (server_cpu(lab.proc.pid) - cpu0) / result["wall"]
        print(
            f"| {n} | {result['slider_p50_ms']:.0f} ms | {result['slider_p95_ms']:.0f} ms "
            f"| {result['steps_per_second_min']:.1f} | {result['steps_per_second_median']:.1f} "
            f"| {len(result['errors'])} | {len(result['refusals'])} "
            f"| {result['server_cpu']:.2f} cores | {os.getloadavg()[0]:.1f} |",
            flush=True,
        )
        for line in (result["errors"] + result["refusals"])[:5]:
            print(f"    {line}")


def _mix_report(total):
    with Lab() as lab:
        mix(lab.port, 50, seed=1)  # warm up: imports, the first drawing, the worker threads
        time.sleep(limits_settle())
        before = resources(lab.proc.pid)
        began = time.monotonic()
        counts = mix(lab.port, total)
        took = time.monotonic() - began
        after = resources(lab.proc.pid)
        time.sleep(limits_settle())
        settled = resources(lab.proc.pid)
    print(f"{total} mixed requests in {took:.0f} s on 127.0.0.1, 8 at once")
    for name, statuses in sorted(counts.items()):
        print(f"  {name:16} {statuses}")
    print("| | threads | memory (RSS) | file descriptors |")
    print("|---|---:|---:|---:|")
    for label, r in [("before", before), ("right after", after), ("idle again", settled)]:
        print(f"| {label} | {r['threads']} | {r['rss_mb']} MB | {r['fds']} |")
    log = [line for line in lab.stderr.splitlines() if line.strip()]
    print(f"server log: {len(log)} lines:")
    for line in sorted(set(log)):
        print(f"  {log.count(line)} x {line}")


def limits_settle():
    """Long enough for idle and unfinished connections to time out, and gone tabs to be swept."""
    from tinygrad_act.lab import limits

    return max(limits.REQUEST_SECONDS, limits.KEEP_ALIVE_SECONDS) + 1.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", default="10,30,60", help="class sizes, comma-separated")
    parser.add_argument("--seconds", type=float, default=40.0, help="measured seconds per class")
    parser.add_argument(
        "--mix", type=int, default=0, metavar="N", help="run the mixed run of N requests instead"
    )
    args = parser.parse_args(argv)
    if args.mix:
        _mix_report(args.mix)
    else:
        _class_table([int(n) for n in args.students.split(",")], args.seconds)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
