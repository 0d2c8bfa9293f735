"""The lab on a real uvicorn server (loopback only): the live stream, a flood of bad and concurrent
requests, and the ``tinygrad-act lab`` command's start, refusals and Ctrl-C."""

import concurrent.futures
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytest.importorskip("uvicorn", reason="the lab extra (starlette, uvicorn) is not installed")

from tinygrad_act.expression import parse_expression  # noqa: E402

NEURON = "tanh(x1*w1 + x2*w2 + b)"
VALUES = {"x1": 2.0, "w1": -3.0, "x2": 0.0, "w2": 1.0, "b": 6.8813735870195432}
ROOT = Path(__file__).resolve().parent.parent


def _request(url, method, path, body=None, raw=None, timeout=30):
    """(status, parsed JSON or text) of one request on its own connection."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        headers = {"content-type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        try:
            return response.status, json.loads(text)
        except json.JSONDecodeError:
            return response.status, text
    finally:
        conn.close()


def _session(url):
    status, body = _request(url, "POST", "/api/sessions", {})
    assert status == 201
    return body["session"]


def _train(url, sid, **body):
    return _request(url, "POST", f"/api/sessions/{sid}/train", body)


class _Events:
    """A reader of a session's server-sent events over one held-open connection."""

    def __init__(self, url, sid):
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
        self.conn.request("GET", f"/api/sessions/{sid}/events")
        self.response = self.conn.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("content-type").startswith("text/event-stream")

    def next(self, name="train"):
        event, data = None, []
        while True:
            line = self.response.fp.readline().decode()
            assert line, "the stream ended"
            line = line.rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif not line and event is not None:
                if event == name:
                    return json.loads("".join(data))
                event, data = None, []

    def close(self):
        self.conn.sock.shutdown(socket.SHUT_RDWR)
        self.conn.close()


def test_the_stream_sends_the_whole_run_then_each_chunk_while_it_plays(lab_server):
    sid = _session(lab_server)
    _train(lab_server, sid, action="reset", settings={"depth": 2, "width": 8})
    events = _Events(lab_server, sid)
    try:
        first = events.next()
        assert first["step"] == 0 and first["points"] and not first["playing"]
        status, _ = _train(lab_server, sid, action="play")
        assert status == 200
        seen = [first]
        while seen[-1]["step"] < 12:
            seen.append(events.next())
        steps = [s["step"] for s in seen]
        assert steps == sorted(steps)
        # Each event carries the curve from where the last one stopped: together, every step.
        losses = []
        for state in seen:
            net = state["networks"][0]
            assert net["from"] == len(losses)
            losses += net["losses"]
        assert len(losses) == seen[-1]["step"]
    finally:
        _train(lab_server, sid, action="pause")
        events.close()


def test_closing_the_stream_stops_the_run_as_a_closed_tab_would(lab_server):
    sid = _session(lab_server)
    _train(lab_server, sid, action="reset", settings={"depth": 2, "width": 8})
    events = _Events(lab_server, sid)
    events.next()
    assert _train(lab_server, sid, action="play")[1]["playing"] is True
    events.next()
    events.close()
    for _ in range(
        100
    ):  # the server notices the disconnect at once; allow it 10 s on a busy machine
        state = _request(lab_server, "GET", f"/api/sessions/{sid}/train")[1]
        if not state["playing"]:
            break
        time.sleep(0.1)
    assert not state["playing"]
    stopped_at = state["step"]
    time.sleep(0.3)
    assert _request(lab_server, "GET", f"/api/sessions/{sid}/train")[1]["step"] == stopped_at


def _bad_requests(sid):
    """Requests that must each get a one-line 4xx: (method, path, JSON body, raw bytes)."""
    long_text = "x" * 2000
    return [
        ("POST", "/api/graph", None, b"{"),
        ("POST", "/api/graph", None, b'{"expression": "x", "values": {"x": NaN}}'),
        ("POST", "/api/graph", None, b'{"expression": "x", "values": {"x": 1e999}}'),
        ("POST", "/api/graph", None, b'{"expression": ' + b"1" * 4000 + b"}"),
        ("POST", "/api/graph", None, b"[" * 5000),
        ("POST", "/api/graph", None, b"\x00\xff" * 100),
        ("POST", "/api/graph", None, b'{"expression": "x"}' + b" " * 20_000),
        ("POST", "/api/graph", {"expression": long_text}, None),
        ("POST", "/api/graph", {"expression": "__import__('os')"}, None),
        ("POST", "/api/graph", {"expression": "x", "values": {"x": "1"}}, None),
        ("POST", "/api/graph", {"expression": "x", "nope": 1}, None),
        ("POST", "/api/graph", {"expression": "x", "step": -1}, None),
        ("POST", "/api/activation", {"name": "relu", "z": 1e300}, None),
        ("POST", "/api/activation", {"name": ["relu"], "z": 0}, None),
        ("POST", "/api/activation", {"name": "relu", "z": 0, "params": {"slope": 1}}, None),
        ("GET", "/api/graph", None, None),
        ("GET", "/etc/passwd", None, None),
        ("GET", "/static/../../setup.cfg", None, None),
        ("DELETE", "/api/sessions", None, None),
        ("GET", "/api/sessions/not-a-session/train", None, None),
        (
            "POST",
            f"/api/sessions/{sid}/train",
            {"action": "reset", "settings": {"width": 1e9}},
            None,
        ),
        ("POST", f"/api/sessions/{sid}/train", {"action": "step", "steps": 10**6}, None),
        ("POST", f"/api/sessions/{sid}/train", {"action": "explode"}, None),
        ("POST", f"/api/sessions/{sid}/train", None, b"null"),
    ]


def test_bad_and_concurrent_requests_leave_the_server_and_other_sessions_intact(lab_server):
    keep = _session(lab_server)  # the parallel session whose state must survive
    _train(lab_server, keep, action="reset", settings={"activations": ["tanh"], "seed": 7})
    _train(lab_server, keep, action="step", steps=5)
    before = _request(lab_server, "GET", f"/api/sessions/{keep}/train")[1]

    busy = _session(lab_server)
    _train(lab_server, busy, action="reset", settings={"depth": 1, "width": 4})
    good = [
        ("POST", "/api/graph", {"expression": NEURON, "values": VALUES}, None),
        ("POST", "/api/graph", {"expression": NEURON, "values": VALUES, "step": 2}, None),
        ("POST", "/api/activation", {"name": "tanh", "z": 0.3}, None),
        ("POST", f"/api/sessions/{busy}/train", {"action": "step", "steps": 3}, None),
        ("POST", f"/api/sessions/{busy}/train", {"action": "play"}, None),
        ("POST", f"/api/sessions/{busy}/train", {"action": "pause"}, None),
    ]
    bad = _bad_requests(busy)
    work = [(r, True) for r in bad] * 4 + [(r, False) for r in good] * 8  # 144 requests

    def fire(item):
        (method, path, body, raw), must_refuse = item
        status, answer = _request(lab_server, method, path, body, raw)
        return must_refuse, status, answer, path

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(fire, work, timeout=120))
    for must_refuse, status, answer, path in results:
        assert status < 500, (path, status, answer)
        if must_refuse:
            assert 400 <= status < 500, (path, status)
            assert isinstance(answer, dict) and set(answer) == {"error"}, (path, answer)
            assert "\n" not in answer["error"]
        else:
            assert status in (200, 429), (path, status, answer)  # 429: the drawing slots were full

    after = _request(lab_server, "GET", f"/api/sessions/{keep}/train")[1]
    assert after == before
    status, view = _request(
        lab_server, "POST", "/api/graph", {"expression": NEURON, "values": VALUES}
    )
    root = parse_expression(NEURON, VALUES)
    assert status == 200 and view["value"] == root.data
    _train(lab_server, busy, action="pause")


# ---- the command ------------------------------------------------------------------------------------


def _lab(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tinygrad_act", "lab", "--no-browser", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def _first_line(stream, proc):
    lines = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout=60)
    if not lines:
        proc.kill()
        pytest.fail("the lab printed nothing within a minute")
    return lines[0]


def test_the_command_prints_its_url_serves_the_page_and_stops_on_ctrl_c_with_130():
    proc = _lab("--port", "0")
    try:
        line = _first_line(proc.stdout, proc)
        assert line.startswith("tinygrad_act lab: http://127.0.0.1:") and "Ctrl-C" in line
        url = line.split()[2]
        status, text = _request(url, "GET", "/")
        assert status == 200 and "tinygrad_act lab" in text
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert err.strip().splitlines() == ["tinygrad-act lab: stopped"]


def test_a_port_in_use_is_a_one_line_error_with_exit_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = _lab("--port", str(port))
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip().splitlines() == [
        f"tinygrad-act lab: error: port {port} on 127.0.0.1 is already in use; "
        "stop what uses it or choose another with --port"
    ]
    assert out == ""


def test_listening_on_every_interface_warns_that_anyone_on_the_network_can_use_it():
    proc = _lab("--host", "0.0.0.0", "--port", "0")
    try:
        warning = _first_line(proc.stderr, proc)
        assert warning.startswith("warning: --host 0.0.0.0") and "anyone on the network" in warning
        line = _first_line(proc.stdout, proc)
        assert line.startswith("tinygrad_act lab: http://")
        assert _request(line.split()[2], "GET", "/api/activations")[0] == 200
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-500:]


@pytest.mark.parametrize("port", ["-1", "65536", "http"])
def test_a_bad_port_is_refused_by_the_parser(port):
    proc = _lab("--port", port)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and len(err.strip().splitlines()) == 1
