"""The widgets in a real JupyterLab, driven by a real headless Chromium.

The test starts JupyterLab on 127.0.0.1 (a random port, token auth, a temporary root folder, a
kernel of this interpreter with this checkout first on the path), opens a notebook that creates
an ExpressionWidget for the lecture's neuron, an ActivationExplorer at tanh, z = 10, and a small
TrainingWidget, runs it, and checks what is on screen: a slider moved in the page gives the
gradients the engine gives for the new values, the "as code" tab shows the code `trace` writes,
the explorer shows tanh'(10) = 8.2e-09, the training widget's buttons train in the kernel (step,
play, pause), and the page logs no error.
Screenshots of each widget at 400 and 1280 px go to a temporary folder, or to $TGA_WIDGET_SHOTS
(docs/_static for the docs).
"""

import importlib.util
import json
import math
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("jupyterlab", reason="jupyterlab is not installed (the widgets extra)")
pytest.importorskip("anywidget", reason="anywidget is not installed (the widgets extra)")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from tinygrad_act.backprop import topological_order  # noqa: E402
from tinygrad_act.expression import parse_expression  # noqa: E402
from tinygrad_act.expression_code import expression_code  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("screenshots", ROOT / "docs" / "screenshots.py")
screenshots = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(screenshots)

NEURON = "tanh(x1*w1 + x2*w2 + b)"
VALUES = {"x1": 2.0, "w1": -3.0, "x2": 0.0, "w2": 1.0, "b": 6.8813735870195432}
START_SECONDS = 60  # JupyterLab's start, at most
KERNEL = "tinygrad-act-widgets"
CELLS = [
    "from tinygrad_act.widgets import ActivationExplorer, ExpressionWidget, TrainingWidget",
    f"neuron = ExpressionWidget({NEURON!r}, "
    + ", ".join(f"{k}={v!r}" for k, v in VALUES.items())
    + ")\nneuron",
    'explorer = ActivationExplorer("tanh", z=10)\nexplorer',
    'training = TrainingWidget(depth=2, width=8, activations=("sigmoid", "relu"), lr=0.3)\n'
    "training.step(20)\ntraining",
]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook(folder):
    cells = [
        {"cell_type": "code", "metadata": {}, "source": src, "outputs": [], "execution_count": None}
        for src in CELLS
    ]
    meta = {"kernelspec": {"name": KERNEL, "display_name": KERNEL, "language": "python"}}
    nb = {"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}
    (folder / "widgets.ipynb").write_text(json.dumps(nb), encoding="utf-8")


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """A JupyterLab server of this interpreter: (url with token, the server process)."""
    home = tmp_path_factory.mktemp("jupyterlab")
    spec = home / "data" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": KERNEL, "language": "python"}
    kernel["env"] = {"PYTHONPATH": str(ROOT)}
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    # No news pop-up over the widgets (and no request to the internet for it).
    labconfig = home / "config" / "labconfig"
    labconfig.mkdir(parents=True)
    announcements = {"@jupyterlab/apputils-extension:announcements": True}
    (labconfig / "page_config.json").write_text(json.dumps({"disabledExtensions": announcements}))
    work = home / "notebooks"
    work.mkdir()
    _notebook(work)
    token, port = secrets.token_hex(16), _free_port()
    env = {
        **os.environ,
        "HOME": str(home),
        "JUPYTER_PATH": str(home / "data"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "PYTHONPATH": str(ROOT),
    }
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabServerApp.extension_manager=readonly",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # a container's root (CI); JupyterLab refuses it otherwise
    log = open(home / "server.log", "wb")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        "JupyterLab did not start: " + (home / "server.log").read_text()[-2000:]
                    ) from None
                time.sleep(0.3)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    wanted = os.environ.get("TGA_WIDGET_SHOTS")
    return Path(wanted) if wanted else tmp_path_factory.mktemp("widget-shots")


def engine_grads(values):
    root = parse_expression(NEURON, values)
    root.backward()
    return {v.label: v.grad for v in topological_order(root) if v.label in values}


def test_the_widgets_in_jupyterlab(jupyterlab, shots):
    if screenshots.chromium_path() is None:
        pytest.skip("no Chromium on the PATH (apt-get install chromium)")
    base, token = jupyterlab
    problems = []
    with sync_api.sync_playwright() as p:
        browser = screenshots.launch(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(30_000)
            page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
            page.on(
                "console",
                lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
            )
            page.goto(f"{base}/lab/tree/widgets.ipynb?token={token}")
            page.wait_for_function(
                "() => window.jupyterapp && document.querySelector('.jp-Notebook')"
            )
            # The notebook's own kernel, started and idle (run earlier, Lab asks which kernel).
            page.wait_for_function(
                "name => { const w = window.jupyterapp.shell.currentWidget;"
                " const c = w && w.sessionContext;"
                " return c && c.isReady && c.session && c.session.kernel"
                " && c.session.kernel.name === name && c.kernelDisplayStatus === 'idle'; }",
                arg=KERNEL,
            )
            # Not awaited: evaluate has no timeout of its own, the waits below have.
            page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
            page.wait_for_selector(".tga-expression .tga-grad[data-grad]")
            page.wait_for_selector(".tga-explorer tr[data-way=formula]")
            page.wait_for_selector(".tga-training .tga-status[data-step='20']")

            # The lecture's neuron as built: the gradients on screen are the engine's.
            shown = _grads_on_screen(page)
            assert shown == pytest.approx(engine_grads(VALUES), abs=1e-12)
            _shoot(page, ".tga-expression", shots / "widget-expression")

            # Move w1's slider: the kernel recomputes, the page shows the engine's new gradients.
            slider = page.get_by_label("w1 slider")
            slider.scroll_into_view_if_needed()
            renders = page.locator(".tga-expression").get_attribute("data-renders")
            slider.fill("-1.5")
            page.wait_for_function(
                "r => document.querySelector('.tga-expression').dataset.renders !== r "
                "&& document.querySelector('.tga-expression .tga-grad').dataset.grad !== ''",
                arg=renders,
            )
            page.wait_for_function(
                "() => document.querySelector('[aria-label=\"w1 value\"]').value === '-1.5'"
            )
            moved = {**VALUES, "w1": -1.5}
            shown = _grads_on_screen(page)
            assert shown == pytest.approx(engine_grads(moved), abs=1e-12)
            text = page.locator(".tga-expression .tga-value").inner_text()
            o = math.tanh(2 * -1.5 + 6.8813735870195432)
            assert text.endswith(f"o = {o:.6g}")

            # Hover a node: its explanation, the lab's; step backward: frame 0, then the graph.
            output_id, chain = _output_explained()
            page.locator(f".tga-expression g.node[data-node='{output_id}']").first.hover()
            info = page.locator(".tga-expression .tga-info")
            info.locator("h4").wait_for()
            assert chain in info.inner_text()
            page.locator(".tga-expression button", has_text="step ▶").click()
            status = page.locator(".tga-expression .tga-status")
            page.wait_for_function(
                "() => document.querySelector('.tga-expression .tga-status')"
                ".textContent.startsWith('Step 0 of 5')"
            )
            page.locator(".tga-expression button", has_text="finished graph").click()
            page.wait_for_function(
                "() => document.querySelector('.tga-expression .tga-status')"
                ".textContent.startsWith('Finished graph')"
            )
            assert "5 backward steps" in status.inner_text()

            # The "as code" tab: the kernel's code of the expression, the slide's tanh' line.
            page.locator(".tga-expression button", has_text="as code").click()
            code = page.locator(".tga-expression .tga-code")
            code.wait_for(state="visible")
            assert "dv3 = do * (1 - o**2)  # tanh' = 1-a²" in code.text_content()
            assert code.text_content() == expression_code(NEURON, moved, output="o").text
            assert not page.locator(".tga-expression .tga-drawing").is_visible()
            # Its lines are kept (JupyterLab wraps an output's pre): a long one scrolls instead.
            assert code.evaluate("(el) => getComputedStyle(el).whiteSpace") == "pre"
            _shoot(page, ".tga-expression", shots / "widget-expression-code")
            page.locator(".tga-expression button", has_text="the graph").click()
            page.locator(".tga-expression .tga-drawing svg").wait_for(state="visible")

            # A value out of range typed in a box: the lab's one line, the numbers kept.
            box = page.get_by_label("x1 value")
            box.fill("5000000")
            box.press("Tab")  # the box's change event: the value goes to the kernel
            error = page.locator(".tga-expression .tga-error")
            error.wait_for(state="visible")
            assert error.inner_text() == "values.x1 must lie in [-1e+06, 1e+06], got 5e+06"
            page.wait_for_function(
                "() => document.querySelector('[aria-label=\"x1 value\"]').value === '2'"
            )
            assert _grads_on_screen(page) == pytest.approx(engine_grads(moved), abs=1e-12)

            # The explorer at the slide's saturated tanh: tanh'(10) = 8.2e-09, three ways.
            formula = page.locator(".tga-explorer tr[data-way=formula] td").nth(1).inner_text()
            value = float(formula.rsplit("=", 1)[1])
            assert f"{value:.1e}" == "8.2e-09"
            assert value == pytest.approx(1 - math.tanh(10.0) ** 2, rel=1e-3)
            backprop = page.locator(".tga-explorer tr[data-way=backprop] td").nth(1).inner_text()
            assert float(backprop.rsplit("=", 1)[1]) == pytest.approx(value, rel=1e-3)
            _shoot(page, ".tga-explorer", shots / "widget-explorer")

            # The training widget's step button trains 10 steps in the kernel.
            page.locator(".tga-training button", has_text="step").click()
            page.wait_for_selector(".tga-training .tga-status[data-step='30']")
            # Play trains in a thread of the kernel and streams its progress; pause stops it.
            page.locator(".tga-training button", has_text="play").click()
            page.wait_for_function(
                "() => Number(document.querySelector('.tga-training .tga-status')"
                ".dataset.step) >= 40"
            )
            page.locator(".tga-training button", has_text="pause").click()
            page.wait_for_function(
                "() => document.querySelector('.tga-training .tga-status')"
                ".textContent.startsWith('paused')"
            )
            paused = page.locator(".tga-training .tga-status").get_attribute("data-step")
            page.wait_for_timeout(500)
            assert page.locator(".tga-training .tga-status").get_attribute("data-step") == paused
            page.locator(".tga-training button", has_text="step").click()
            page.wait_for_selector(f".tga-training .tga-status[data-step='{int(paused) + 10}']")
            _shoot(page, ".tga-training", shots / "widget-training")
        except Exception:
            page.screenshot(path=str(shots / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert problems == []


def _output_explained():
    """The output's drawing id and chain-rule line at w1 = -1.5, computed here."""
    from tinygrad_act.lab.explain import explain_graph

    root = parse_expression(NEURON, {**VALUES, "w1": -1.5})
    root.label = "o"
    root.backward()
    node = explain_graph(root)[-1]
    return node["id"], node["chain"]


def _grads_on_screen(page):
    rows = page.locator(".tga-expression .tga-variable")
    out = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        name = row.locator("label").inner_text()
        out[name] = float(row.locator(".tga-grad").get_attribute("data-grad"))
        text = row.locator(".tga-grad").inner_text()
        assert re.fullmatch(rf"∂o/∂{name} = -?[0-9.e+-]+", text), text
    return out


def _shoot(page, selector, stem):
    """The widget at the notebook's width on a laptop, and on a phone-sized window."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    # Lab's side panels closed, as on a phone: the notebook gets the window's width.
    page.evaluate(
        "() => { window.jupyterapp.shell.collapseLeft(); window.jupyterapp.shell.collapseRight(); }"
    )
    for width in (1280, 400):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(300)
        widget = page.locator(selector)
        widget.scroll_into_view_if_needed()
        widget.screenshot(path=f"{stem}-{width}.png")
    page.set_viewport_size({"width": 1280, "height": 900})
