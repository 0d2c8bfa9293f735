"""Two students on a local JupyterHub, each moving a slider in their own notebook: a smoke test of
docs/teaching.md's set-up, run by hand (not by `make test`): `python tools/hub_smoke.py`.

It starts JupyterHub on 127.0.0.1 (a temporary folder, the dummy authenticator with a shared
password, the local-process spawner, this interpreter's `jupyterhub.singleuser` with this checkout
first on the path), logs in as two students in two Chromium contexts, opens the same lesson in
each, moves w1's slider to a different value in each, and checks that each page shows the engine's
gradients for its own values, before and after the other student moved theirs. Everything is
bounded in time; the hub and its servers are stopped at the end. Needs jupyterhub, the proxy
(`npm install -g configurable-http-proxy`), JupyterLab, Playwright and Chromium.

Prints one line per check and exits 0 when every check held, 1 otherwise.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs"))

import screenshots  # noqa: E402  (the docs' Chromium launcher: flags, the system's Chromium)

from tinygrad_act.expression import parse_expression  # noqa: E402

NEURON = "tanh(x1*w1 + x2*w2 + b)"
VALUES = {"x1": 2.0, "w1": -3.0, "x2": 0.0, "w2": 1.0, "b": 6.8813735870195432}
STUDENTS = {"alice": -1.5, "bob": 0.75}  # each student's w1
START_SECONDS = 90
WAIT_MS = 60_000
KERNEL_READY = (
    "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
    " const c = w && w.sessionContext;"
    " return c && c.isReady && c.session && c.session.kernel && c.kernelDisplayStatus === 'idle'; }"
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lesson(folder):
    source = (
        "from tinygrad_act.widgets import ExpressionWidget\n"
        f"ExpressionWidget({NEURON!r}, " + ", ".join(f"{k}={v!r}" for k, v in VALUES.items()) + ")"
    )
    cell = {"cell_type": "code", "metadata": {}, "source": source, "outputs": []}
    cell["execution_count"] = None
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nb = {"cells": [cell], "metadata": meta, "nbformat": 4, "nbformat_minor": 4}
    (folder / "lesson.ipynb").write_text(json.dumps(nb), encoding="utf-8")


def hub_config(folder, port, password):
    homes = folder / "home"
    for name in STUDENTS:
        (homes / name).mkdir(parents=True)
        lesson(homes / name)
    args = [
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")
    settings = {
        "JupyterHub.ip": "127.0.0.1",
        "JupyterHub.port": port,
        "JupyterHub.hub_ip": "127.0.0.1",
        "JupyterHub.hub_port": free_port(),
        "JupyterHub.authenticator_class": "dummy",
        "DummyAuthenticator.password": password,
        "Authenticator.allow_all": True,
        "JupyterHub.spawner_class": "simple",
        "SimpleLocalProcessSpawner.home_dir_template": str(homes / "{username}"),
        "Spawner.cmd": [sys.executable, "-m", "jupyterhub.singleuser"],
        "Spawner.args": args,
        "Spawner.default_url": "/lab",
        "Spawner.start_timeout": 90,
        "Spawner.environment": {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
        "JupyterHub.db_url": f"sqlite:///{folder / 'hub.sqlite'}",
        "JupyterHub.cookie_secret_file": str(folder / "cookie_secret"),
        "JupyterHub.pid_file": str(folder / "hub.pid"),
        "ConfigurableHTTPProxy.pid_file": str(folder / "proxy.pid"),
        "JupyterHub.cleanup_servers": True,
    }
    lines = [f"c.{key} = {value!r}" for key, value in settings.items()]
    config = folder / "jupyterhub_config.py"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def engine_grads(w1):
    root = parse_expression(NEURON, {**VALUES, "w1": w1})
    root.backward()
    from tinygrad_act.backprop import topological_order

    return {v.label: v.grad for v in topological_order(root) if v.label in VALUES}


def grads_on_screen(page):
    rows = page.locator(".tga-expression .tga-variable")
    out = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        out[row.locator("label").inner_text()] = float(
            row.locator(".tga-grad").get_attribute("data-grad")
        )
    return out


def close(a, b):
    return a.keys() == b.keys() and all(math.isclose(a[k], b[k], abs_tol=1e-12) for k in a)


def main():
    if shutil.which("configurable-http-proxy") is None:
        print("hub_smoke: configurable-http-proxy is not installed (npm install -g ...)")
        return 1
    if screenshots.chromium_path() is None:
        print("hub_smoke: no Chromium on the PATH (apt-get install chromium)")
        return 1
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="tinygrad-act-hub-"))
    port, password = free_port(), secrets.token_hex(8)
    config = hub_config(folder, port, password)
    log = open(folder / "hub.log", "wb")  # noqa: SIM115 (closed below)
    hub = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(config)],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    base = f"http://127.0.0.1:{port}"
    failures = []

    def check(ok, what):
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            failures.append(what)

    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"{base}/hub/api", timeout=2):
                    break
            except OSError:
                if hub.poll() is not None or time.monotonic() > deadline:
                    print("hub_smoke: the hub did not start; its log:")
                    print((folder / "hub.log").read_text()[-3000:])
                    return 1
                time.sleep(0.5)
        print(f"hub on {base}, folder {folder}")
        with sync_playwright() as p:
            browser = screenshots.launch(p)
            pages = {}
            try:
                for name, w1 in STUDENTS.items():
                    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                    page.set_default_timeout(WAIT_MS)
                    errors = []
                    page.on("pageerror", lambda err, errors=errors: errors.append(str(err)))
                    page.goto(f"{base}/hub/login")
                    page.fill("input[name=username]", name)
                    page.fill("input[name=password]", password)
                    page.click("input[type=submit], button[type=submit]")
                    page.wait_for_url(f"**/user/{name}/lab**", timeout=120_000)
                    page.goto(f"{base}/user/{name}/lab/tree/lesson.ipynb")
                    page.wait_for_function(KERNEL_READY)
                    page.evaluate(
                        "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
                    )
                    page.wait_for_selector(".tga-expression .tga-grad[data-grad]")
                    check(close(grads_on_screen(page), engine_grads(VALUES["w1"])),
                          f"{name}: the lecture's neuron, the engine's gradients")  # fmt: skip
                    page.get_by_label("w1 slider").fill(str(w1))
                    page.wait_for_function(
                        "v => document.querySelector('[aria-label=\"w1 value\"]').value === v",
                        arg=str(w1),
                    )
                    page.wait_for_timeout(500)
                    check(close(grads_on_screen(page), engine_grads(w1)),
                          f"{name}: w1 = {w1} on screen, the engine's gradients for it")  # fmt: skip
                    check(errors == [], f"{name}: no page error {errors[:1]}")
                    pages[name] = page
                for name, w1 in STUDENTS.items():  # after the other moved theirs: still their own
                    check(close(grads_on_screen(pages[name]), engine_grads(w1)),
                          f"{name}: still their own numbers after the other student moved")  # fmt: skip
            finally:
                browser.close()
    finally:
        hub.terminate()
        try:
            hub.wait(timeout=30)
        except subprocess.TimeoutExpired:
            hub.kill()
            hub.wait()
        log.close()
    print("hub_smoke:", "every check held" if not failures else f"{len(failures)} failed")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
