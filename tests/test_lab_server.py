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


# ---- a class on one lab: only its own page drives it, every student trains, connections end --------


def _raw_request(url, method, path, headers, body=b""):
    """(status, parsed JSON) of a request with exactly these headers (Host included)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in {**headers, "content-length": str(len(body))}.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_dns_rebinding_and_cross_site_posts_are_refused_by_the_running_lab(lab_server):
    port = urlsplit(lab_server).port
    # A page on evil.example whose name now resolves to 127.0.0.1: its Host is its own name.
    status, answer = _raw_request(
        lab_server, "GET", "/api/activations", {"host": f"evil.example:{port}"}
    )
    assert status == 403 and "not for host 'evil.example:" in answer["error"]
    # A page on any site posting plain text (no preflight) to the lab's real address.
    cross = {
        "host": f"127.0.0.1:{port}",
        "origin": "https://evil.example",
        "content-type": "text/plain;charset=UTF-8",
        "sec-fetch-site": "cross-site",
    }
    status, answer = _raw_request(lab_server, "POST", "/api/sessions", cross, b"{}")
    assert status == 403 and "only the lab's own page" in answer["error"]
    own = {
        "host": f"127.0.0.1:{port}",
        "origin": f"http://127.0.0.1:{port}",
        "content-type": "application/json",
    }
    assert _raw_request(lab_server, "POST", "/api/sessions", own, b"{}")[0] == 201


def test_eight_students_each_train_while_moving_sliders_and_other_sessions_stay_intact(lab_server):
    from benchmarks.lab_load import run_class

    bystander = _session(lab_server)  # a tab that stepped its run and left it
    _train(lab_server, bystander, action="reset", settings={"activations": ["tanh"], "seed": 5})
    _train(lab_server, bystander, action="step", steps=4)
    before = _request(lab_server, "GET", f"/api/sessions/{bystander}/train")[1]

    result = run_class(lab_server, students=8, seconds=4.0, ramp=3.0)
    assert result["errors"] == [] and result["refusals"] == []
    assert result["runs"] == 8 and result["steps_per_second_min"] > 0  # every run advanced
    assert result["slider_updates"] > 0
    assert _request(lab_server, "GET", f"/api/sessions/{bystander}/train")[1] == before


def _hold(url, path, session=None):
    """A request whose head is sent and whose body never comes: it stays in flight (for up to
    limits.REQUEST_SECONDS, then a 408)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    head = f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{parts.port}\r\ncontent-type: application/json\r\ncontent-length: 50\r\n"
    if session:
        head += f"x-lab-session: {session}\r\n"
    sock.sendall((head + "\r\n{").encode())
    return sock


def test_one_session_cannot_hold_more_than_its_share_of_requests(lab_server):
    from tinygrad_act.lab import limits

    busy, other = _session(lab_server), _session(lab_server)
    _train(lab_server, other, action="reset", settings={"depth": 1, "width": 4})
    held = [_hold(lab_server, "/api/graph", busy) for _ in range(limits.MAX_REQUESTS_PER_SESSION)]
    try:
        time.sleep(0.5)  # the held requests reach the app
        parts = urlsplit(lab_server)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        headers = {"content-type": "application/json", "x-lab-session": busy}
        conn.request("POST", "/api/graph", body=json.dumps({"expression": "x"}), headers=headers)
        response = conn.getresponse()
        assert response.status == 429
        assert "requests in flight" in json.loads(response.read())["error"]
        conn.close()
        # The other tab is served meanwhile, its training requests and its drawings alike.
        assert _train(lab_server, other, action="step", steps=2)[0] == 200
        status, view = _request(
            lab_server, "POST", "/api/graph", {"expression": NEURON, "values": VALUES}
        )
        assert status == 200 and view["value"] == parse_expression(NEURON, VALUES).data
    finally:
        for sock in held:
            sock.close()


def test_a_session_has_one_stream_a_newer_one_ends_the_older(lab_server):
    sid = _session(lab_server)
    _train(lab_server, sid, action="reset", settings={"depth": 1, "width": 4})
    first = _Events(lab_server, sid)
    first.next()
    second = _Events(lab_server, sid)
    try:
        second.next()
        with pytest.raises(AssertionError, match="the stream ended"):
            while True:
                first.next()
    finally:
        first.conn.close()
        second.close()


def test_unfinished_requests_and_idle_connections_are_closed(lab_server):
    from tinygrad_act.lab import limits

    parts = urlsplit(lab_server)
    deadline = limits.REQUEST_SECONDS + 10  # generous on a busy machine; a hung one fails
    silent = socket.create_connection((parts.hostname, parts.port), timeout=deadline)
    half_head = socket.create_connection((parts.hostname, parts.port), timeout=deadline)
    half_head.sendall(f"GET / HTTP/1.1\r\nhost: 127.0.0.1:{parts.port}\r\n".encode())
    half_body = _hold(lab_server, "/api/graph")
    half_body.settimeout(deadline)
    try:
        assert silent.recv(100) == b""  # closed by the server, no answer owed
        assert half_head.recv(100) == b""
        answer = b""
        while not answer.endswith(b"}"):  # the head and the JSON body may come apart
            chunk = half_body.recv(1000)
            assert chunk, answer
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408") and b"did not arrive within" in answer
    finally:
        for sock in (silent, half_head, half_body):
            sock.close()


def test_a_client_gone_mid_body_is_one_log_line(lab_server, caplog):
    caplog.set_level("WARNING")
    sock = _hold(lab_server, "/api/graph")
    time.sleep(0.3)
    sock.close()
    for _ in range(100):
        if caplog.records:
            break
        time.sleep(0.05)
    time.sleep(0.3)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["lab: a client went away during its request to /api/graph"]
    assert all(r.exc_info is None for r in caplog.records)
    assert _request(lab_server, "GET", "/api/activations")[0] == 200


def test_threads_memory_and_descriptors_stay_flat_over_a_mixed_run():
    pytest.importorskip("psutil")
    from benchmarks.lab_load import Lab, limits_settle, mix, resources

    with Lab() as lab:
        mix(lab.port, 60, seed=1)  # warm up: imports, the first drawings, the worker threads
        time.sleep(limits_settle())
        before = resources(lab.proc.pid)
        counts = mix(lab.port, 300)
        time.sleep(limits_settle())
        after = resources(lab.proc.pid)
    statuses = {status for by_status in counts.values() for status in by_status}
    # the server's own log says what went wrong where an answer was a 5xx
    assert not any(isinstance(s, int) and s >= 500 for s in statuses), (counts, lab.stderr)
    assert after["fds"] <= before["fds"] + 2, (before, after)
    assert after["threads"] <= before["threads"] + 2, (before, after)
    assert after["rss_mb"] - before["rss_mb"] < 30, (before, after)
    log = lab.stderr.strip().splitlines()
    assert all(
        line.startswith(("lab: a client went away", "tinygrad-act lab: stopped")) for line in log
    ), log


def test_a_lab_for_a_class_prints_the_students_urls_and_answers_only_its_names():
    proc = _lab("--host", "0.0.0.0", "--port", "0", "--allow-host", "Lab.School.example")
    try:
        first = _first_line(proc.stdout, proc)
        students = _first_line(proc.stdout, proc)
        port = urlsplit(first.split()[2]).port
        assert students.startswith("students open: http://")
        urls = students.split(": ", 1)[1].split()
        # Each IPv4 address of the machine but loopback (`hostname -I` lists them), and the name.
        listed = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
        expected = [f"http://{a}:{port}/" for a in listed if "." in a and not a.startswith("127.")]
        assert urls == expected + [f"http://lab.school.example:{port}/"]
        url = first.split()[2]
        for host in [urlsplit(u).netloc for u in urls] + [f"localhost:{port}"]:
            assert _raw_request(url, "GET", "/api/activations", {"host": host})[0] == 200, host
        status, answer = _raw_request(
            url, "GET", "/api/activations", {"host": f"evil.example:{port}"}
        )
        assert status == 403 and "--allow-host" in answer["error"]
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130


def test_the_help_explains_the_teachers_start():
    out = subprocess.run(
        [sys.executable, "-m", "tinygrad_act", "lab", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    ).stdout
    text = " ".join(out.split())
    assert "--host 0.0.0.0 listens on the network and prints the URLs students open" in text
    assert "--allow-host NAME" in text and "DNS rebinding" in text
