"""The lab in a real headless Chromium: the numbers on screen are the engine's.

Loads the page from a uvicorn server on 127.0.0.1, types the lecture's neuron, moves a slider
(and measures how long an update takes to reach the screen), hovers the tanh node, steps
backward, trains for a few steps and checks that no console error was logged. With
``LAB_SCREENSHOTS=docs/_static`` it writes the screenshots the docs show (``make lab-screenshots``;
the As code tab's, lab-code.png, comes from its own test); otherwise they go to a temporary folder.
The tests after it (the slide's points, refusals, step gradients, the code, training errors and
phones) put theirs, to look at, in ``LAB_LOOKS`` or a temporary folder.
"""

import importlib.util
import json
import math
import os
import re
import statistics
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (it comes with the dev extra)"
)
pytest.importorskip("uvicorn", reason="the lab extra (starlette, uvicorn) is not installed")

from conftest import serving_lab  # noqa: E402

from tinygrad_act import settings  # noqa: E402
from tinygrad_act.expression import parse_expression  # noqa: E402
from tinygrad_act.expression_code import expression_code  # noqa: E402
from tinygrad_act.lab import limits  # noqa: E402
from tinygrad_act.lab.explain import drawing_order  # noqa: E402

# The machine is shared: a first training step can take seconds when other work runs.
sync_api.expect.set_options(timeout=15_000)

# One way to start Chromium for every browser test: the screenshot script's (Debian's Chromium,
# flags that keep it off the network).
_spec = importlib.util.spec_from_file_location(
    "screenshots", Path(__file__).resolve().parent.parent / "docs" / "screenshots.py"
)
screenshots = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(screenshots)
NEURON = "tanh(x1*w1 + x2*w2 + b)"
VALUES = {"x1": "2", "w1": "-3", "x2": "0", "w2": "1", "b": "6.8813735870195432"}

# Set a slider, wait until the panel has drawn the engine's answer and the browser has painted
# it: the time from the input event to the screen.
MOVE_SLIDER = """async ([name, value]) => {
  const panel = document.getElementById("graph-panel");
  const before = Number(panel.dataset.renders);
  const slider = document.getElementById(`var-${name}-slider`);
  const t0 = performance.now();
  slider.value = value;
  slider.dispatchEvent(new Event("input", { bubbles: true }));
  await new Promise((resolve) => {
    const watch = new MutationObserver(() => {
      if (Number(panel.dataset.renders) > before) { watch.disconnect(); resolve(); }
    });
    watch.observe(panel, { attributes: true });
  });
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  return performance.now() - t0;
}"""


@pytest.fixture(scope="module")
def browser():
    if screenshots.chromium_path() is None:
        pytest.skip(
            "no Chromium on the PATH: install it with `make chromium` "
            "(apt-get install chromium) to run the browser test"
        )
    with sync_api.sync_playwright() as p:
        browser = screenshots.launch(p)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = os.environ.get("LAB_SCREENSHOTS")
    return Path(folder) if folder else tmp_path_factory.mktemp("lab-screenshots")


@pytest.fixture(scope="module")
def looks(tmp_path_factory):
    """Screenshots to look at, not shown in the docs: ``LAB_LOOKS=folder``, else a temporary one."""
    folder = os.environ.get("LAB_LOOKS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder) if folder else tmp_path_factory.mktemp("lab-looks")


def _engine(values):
    root = parse_expression(NEURON, {k: float(v) for k, v in values.items()})
    root.backward()
    grads = {v.label: v.grad for v in drawing_order(root) if v.label}
    return root, grads


def _expect_numbers(page, values):
    """The value and every gradient on screen are the engine's, to the 6 digits shown."""
    root, grads = _engine(values)
    sync_api.expect(page.locator("#graph-value")).to_have_text(f"o = {root.data:.6g}")
    for name, grad in grads.items():
        sync_api.expect(page.locator(f"#var-{name}-grad")).to_have_text(
            f"∂o/∂{name} = {grad + 0.0:.6g}"
        )


def test_the_lab_in_chromium_shows_the_engines_numbers(browser, lab_server, shots):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.set_default_timeout(15_000)
    page.goto(lab_server + "#e=x*y")
    page.wait_for_selector("body[data-ready=true]")

    # Type the lecture's neuron; a slider and a number box appear for each variable.
    page.fill("#expression", "")
    page.type("#expression", NEURON)
    page.wait_for_selector("#var-b-number")
    for name, value in VALUES.items():
        page.fill(f"#var-{name}-number", value)
        page.dispatch_event(f"#var-{name}-number", "change")
    _expect_numbers(page, VALUES)
    assert "tanh" in page.locator("#graph-svg svg").inner_html()

    # Move a slider: the numbers follow, and each update is timed to the screen.
    moved = {**VALUES, "w1": "-2.5"}
    page.evaluate(MOVE_SLIDER, ["w1", "-2.5"])
    _expect_numbers(page, moved)
    timings = [page.evaluate(MOVE_SLIDER, ["x1", f"{1 + k / 10:g}"]) for k in range(20)]
    moved["x1"] = "2.9"
    _expect_numbers(page, moved)
    p50 = statistics.median(timings)
    p95 = sorted(timings)[math.ceil(0.95 * len(timings)) - 1]
    print(
        f"\nlab slider update to screen: p50 {p50:.0f} ms, p95 {p95:.0f} ms ({len(timings)} moves)"
    )

    # Back to the lecture's values; hover the tanh: the slide's formula with the numbers in it.
    page.click("#neuron-preset")
    _expect_numbers(page, VALUES)
    root, _ = _engine(VALUES)
    order = drawing_order(root)
    tanh_op = f"o{len(order) - 1}"
    page.hover(f'#graph-svg g.node[data-node="v{len(order) - 1}"] >> nth=0')
    info = page.locator("#node-info")
    sync_api.expect(info).to_contain_text("1-a² = 1-0.7071² = 0.5")
    sync_api.expect(info).to_contain_text("where a = o, the output")  # the slide's a, said
    sync_api.expect(info).to_contain_text("= 1 × 0.5 = 0.5")
    page.locator("#graph-panel").screenshot(path=str(shots / "lab-expression.png"))

    # Step backward: each frame highlights the next op from the output down, and Back undoes it.
    ops = [f"v{i}" for i, node in reversed(list(enumerate(order))) if node._prev]
    status = page.locator("#step-status")
    seen = []
    for k in range(4):
        page.click("#step-forward")
        sync_api.expect(status).to_contain_text(f"Step {k} of {len(ops)}")
        seen.append(status.get_attribute("data-highlight"))
        highlighted = page.eval_on_selector_all(
            "#graph-svg g.node.highlight title", "titles => titles.map((t) => t.textContent)"
        )
        assert seen[-1] in highlighted or (not seen[-1] and not highlighted)
    visited = [h for h in seen if h]
    assert visited == ops[: len(visited)] and visited[0] == tanh_op.replace("o", "v")
    page.click("#step-back")
    sync_api.expect(status).to_contain_text(f"Step 2 of {len(ops)}")
    assert status.get_attribute("data-highlight") == seen[2]
    page.click("#step-live")
    sync_api.expect(status).to_contain_text("Finished graph")

    # The explorer: relu at its kink, the slide's slope 1 against the central difference's 0.5.
    page.select_option("#activation", "relu")
    page.fill("#z-number", "0")
    page.dispatch_event("#z-number", "change")
    sync_api.expect(page.locator("#way-backprop")).to_contain_text("= 1")
    sync_api.expect(page.locator("#way-numeric")).to_contain_text("0.5")
    sync_api.expect(page.locator("#kink-note")).to_contain_text("kink at z = 0")
    page.select_option("#activation", "sigmoid")
    page.fill("#z-number", "1.5")
    page.dispatch_event("#z-number", "change")
    sync_api.expect(page.locator("#way-formula")).to_contain_text("a(1-a) = 0.8176·(1-0.8176)")
    page.locator("#explorer-panel").screenshot(path=str(shots / "lab-explorer.png"))

    # Train a few steps: the loss on screen falls (network B, relu, learns).
    status = page.locator("#train-status")
    sync_api.expect(status).to_contain_text("step 0")
    page.click("#train-step")
    sync_api.expect(status).to_contain_text("step 1 ")
    first = float(page.locator("#net-1-numbers").get_attribute("data-loss"))
    for k in range(2, 9):
        page.click("#train-step")
        sync_api.expect(status).to_contain_text(f"step {k} ")
    page.click("#train-play")
    page.wait_for_function(
        "() => Number(document.getElementById('train-status').dataset.step) >= 60"
    )
    page.click("#train-pause")
    sync_api.expect(status).to_contain_text("paused")
    last = float(page.locator("#net-1-numbers").get_attribute("data-loss"))
    assert last < first
    assert page.locator("#net-1-health tbody tr").count() == 3
    page.locator("#training-panel").screenshot(path=str(shots / "lab-training.png"))

    # The address holds the state: a new tab from it shows the same expression and settings.
    shared = page.url
    assert "e=tanh" in shared and "acts=sigmoid%2Crelu" in shared
    phone = browser.new_page(viewport={"width": 400, "height": 900})
    phone.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    phone.on("pageerror", lambda e: problems.append(str(e)))
    phone.goto(shared)
    phone.wait_for_selector("body[data-ready=true]")
    sync_api.expect(phone.locator("#graph-value")).to_have_text(f"o = {root.data:.6g}")
    sync_api.expect(phone.locator("#activation")).to_have_value("sigmoid")
    phone.locator("#graph-panel").screenshot(path=str(shots / "lab-phone.png"))
    phone.close()
    page.close()
    assert problems == []


def _open(browser, url, width, problems):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.set_default_timeout(15_000)
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    return page


def _z_in_address(page):
    return dict(p.split("=", 1) for p in page.url.split("#", 1)[1].split("&")).get("z")


@pytest.mark.parametrize("width", [400, 1280])
def test_the_explorer_reaches_the_slides_points_and_refuses_z_out_of_range(
    browser, lab_server, looks, width
):
    problems = []
    page = _open(browser, lab_server, width, problems)
    table = page.locator("#explorer-table")

    # The slide's six points, one click each: the activation and z change together.
    buttons = page.locator("#slide-points button")
    assert buttons.count() == 6
    for k in range(6):
        button = buttons.nth(k)
        name, z = button.get_attribute("data-activation"), float(button.get_attribute("data-z"))
        button.click()
        sync_api.expect(page.locator("#way-a")).to_contain_text(f"a = {name}({z:g}) = ")
        sync_api.expect(page.locator("#activation")).to_have_value(name)
        assert float(page.locator("#z-slider").input_value()) == z
        assert float(_z_in_address(page)) == z
    # tanh(10): a has the digits 1-a² needs, and the printed arithmetic holds.
    sync_api.expect(page.locator("#way-a")).to_contain_text("a = tanh(10) = 0.9999999958777")
    sync_api.expect(page.locator("#way-formula")).to_contain_text(
        "1-a² = 1-0.9999999958777² = 8.245e-09"
    )
    # The plot widened: z = 10 is inside its frame, not at its edge.
    frame = page.locator("#explorer-plot rect.frame").bounding_box()
    dot = page.locator("#explorer-plot circle.at-g").bounding_box()
    assert frame["x"] + 0.05 * frame["width"] < dot["x"] < frame["x"] + 0.95 * frame["width"]
    table.screenshot(path=str(looks / f"lab-explorer-tanh10-{width}.png"))
    page.locator("#explorer-panel").screenshot(path=str(looks / f"lab-explorer-{width}.png"))

    # The whole range by the box; past it, the server's message, nothing moved or rewritten.
    low, high = page.evaluate(
        "[document.getElementById('z-slider').min, document.getElementById('z-slider').max]"
    )
    assert float(low) <= -10 and float(high) >= 10
    page.fill("#z-number", high)
    page.dispatch_event("#z-number", "change")
    sync_api.expect(page.locator("#way-a")).to_contain_text(f"a = tanh({float(high):g}) = ")
    page.fill("#z-number", "25")
    page.dispatch_event("#z-number", "change")
    error = page.locator("#explorer-error")
    sync_api.expect(error).to_contain_text(
        f"z must lie in [{float(low):g}, {float(high):g}], got 25"
    )
    sync_api.expect(page.locator("#explorer-panel .explorer-body")).to_have_class(
        re.compile("stale")
    )
    assert page.locator("#z-number").input_value() == "25"
    assert float(_z_in_address(page)) == float(high)  # the last z that was computed
    page.locator("#explorer-panel").screenshot(
        path=str(looks / f"lab-explorer-refused-{width}.png")
    )
    page.close()

    # A shared address past the range is refused too, and stays as it was shared.
    shared = _open(browser, lab_server + "#a=tanh&z=30", width, problems)
    sync_api.expect(shared.locator("#explorer-error")).to_contain_text("got 30")
    assert _z_in_address(shared) == "30" and shared.locator("#z-number").input_value() == "30"
    shared.close()
    assert [p for p in problems if "400 (Bad Request)" not in p] == []


def test_the_expression_panel_clears_on_a_refusal_resets_values_and_steps_its_gradients(
    browser, lab_server, looks
):
    problems = []
    page = _open(browser, lab_server + "#e=x*y%2Bx&v=x:2,y:-3", 1280, problems)
    grad = {name: page.locator(f"#var-{name}-grad") for name in ("x", "y")}
    sync_api.expect(grad["x"]).to_have_text("∂o/∂x = -2")

    # Stepping backward: the gradients beside the sliders are the frame's (by hand: the + gives
    # x 1, then the * gives x another y = -3 and y its x = 2).
    page.click("#step-forward")
    sync_api.expect(grad["x"]).to_have_text("∂o/∂x = –")
    sync_api.expect(grad["y"]).to_have_text("∂o/∂y = –")
    page.click("#step-forward")
    sync_api.expect(grad["x"]).to_have_text("∂o/∂x so far = 1")
    sync_api.expect(grad["y"]).to_have_text("∂o/∂y = –")
    page.click("#step-forward")
    sync_api.expect(grad["x"]).to_have_text("∂o/∂x = -2")
    sync_api.expect(grad["y"]).to_have_text("∂o/∂y = 2")
    page.click("#step-back")
    sync_api.expect(grad["x"]).to_have_text("∂o/∂x so far = 1")
    page.locator("#graph-panel").screenshot(path=str(looks / "lab-step-gradients.png"))
    page.click("#step-live")
    sync_api.expect(grad["x"]).to_have_text("∂o/∂x = -2")

    # An invalid expression: the message, and nothing of the old graph under it.
    page.fill("#expression", "x*(y+")
    sync_api.expect(page.locator("#graph-error")).to_be_visible()
    sync_api.expect(page.locator("#graph-value")).to_have_count(0)
    sync_api.expect(page.locator("#graph-svg svg")).to_have_count(0)
    sync_api.expect(page.locator("#variables .variable")).to_have_count(0)  # not x*y+x's
    page.locator("#graph-panel").screenshot(path=str(looks / "lab-expression-refused.png"))

    # A new expression starts from the default values; the lecture's neuron sets its own.
    page.fill("#expression", "x*y + 1")
    sync_api.expect(page.locator("#graph-value")).to_have_text("o = 2")
    assert page.locator("#var-x-number").input_value() == "1"
    page.click("#neuron-preset")
    _expect_numbers(page, VALUES)
    page.close()
    assert [p for p in problems if "400 (Bad Request)" not in p] == []


GELU = "gelu(x*w)"  # its slope's comment is a long line: on a phone it scrolls in its block


@pytest.mark.parametrize("width", [400, 1280])
def test_the_expression_as_code_follows_the_expression_and_never_widens_the_page(
    browser, lab_server, shots, looks, width
):
    problems = []
    values = ",".join(f"{k}:{v}" for k, v in VALUES.items())
    page = _open(browser, f"{lab_server}#e={quote(NEURON)}&v={values}", width, problems)
    code = page.locator("#graph-code")
    sync_api.expect(page.locator("#graph-svg svg")).to_be_visible()
    sync_api.expect(code).to_be_hidden()

    # The "As code" tab: the code trace writes, with the slide's tanh' = 1-a² on its line.
    page.click("#show-code")
    sync_api.expect(code).to_contain_text("dv3 = do * (1 - o**2)  # tanh' = 1-a²")
    sync_api.expect(page.locator("#graph-svg")).to_be_hidden()
    neuron = {k: float(v) for k, v in VALUES.items()}
    assert code.text_content() == expression_code(NEURON, neuron, output="o").text
    assert "view=code" in page.url
    _fits(page, width)
    shot = shots / "lab-code.png" if width == 1280 else looks / "lab-code-400.png"  # the docs'
    page.locator("#graph-panel").screenshot(path=str(shot))

    # A new expression: its code, its long lines scrolling inside the block on a phone.
    page.fill("#expression", GELU)
    sync_api.expect(code).to_contain_text("# gelu' = ")
    assert code.text_content() == expression_code(GELU, {"x": 1.0, "w": 1.0}, output="o").text
    block = page.evaluate("(el) => [el.scrollWidth, el.clientWidth]", code.element_handle())
    assert block[0] > block[1] if width == 400 else block[0] <= block[1]
    _fits(page, width)
    page.locator("#code-view").screenshot(path=str(looks / f"lab-code-gelu-{width}.png"))

    # An invalid expression clears the code as it clears the drawing.
    page.fill("#expression", "x*(y+")
    sync_api.expect(page.locator("#graph-error")).to_be_visible()
    sync_api.expect(code).to_have_text("")

    # The address keeps the tab: a link opens on the code; "The graph" goes back to the drawing.
    page.fill("#expression", "sigmoid(x)")
    sync_api.expect(code).to_contain_text("# sigmoid' = a(1-a)")
    shared = _open(browser, page.url, width, problems)
    sync_api.expect(shared.locator("#graph-code")).to_contain_text("# sigmoid' = a(1-a)")
    shared.click("#show-drawing")
    sync_api.expect(shared.locator("#graph-svg svg")).to_be_visible()
    sync_api.expect(shared.locator("#graph-code")).to_be_hidden()
    assert "view=code" not in shared.url
    shared.close()
    page.close()
    assert [p for p in problems if "400 (Bad Request)" not in p] == []


def _fits(page, width):
    """Nothing on the page is wider than the window: what is wide scrolls in its own box."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", [400, 1280])
def test_training_settings_errors_sit_by_their_field_and_the_card_fits(
    browser, lab_server, looks, width
):
    problems = []
    page = _open(browser, lab_server, width, problems)
    sync_api.expect(page.locator("#train-status")).to_contain_text("step 0")
    page.click("#train-step")
    sync_api.expect(page.locator("#train-status")).to_contain_text("step 1 ")
    # The boxes' bounds are the library's, the ones the server checks.
    for field in ("depth", "width", "lr", "seed"):
        box = page.locator(f"#train-{field}")
        low, high = settings.bounds(field)
        assert (float(box.get_attribute("min")), float(box.get_attribute("max"))) == (low, high)

    # An empty learning rate is missing (not 0), shown by its box; the same for a width of 2.5.
    page.fill("#train-lr", "")
    page.click("#train-reset")
    lr_error = page.locator("#train-lr-error")
    sync_api.expect(lr_error).to_be_visible()
    sync_api.expect(lr_error).to_contain_text("missing")
    assert page.locator("#train-error").is_hidden()
    page.fill("#train-lr", "0.3")
    page.fill("#train-width", "2.5")
    page.click("#train-reset")
    sync_api.expect(page.locator("#train-width-error")).to_contain_text("width")
    sync_api.expect(lr_error).to_be_hidden()
    page.locator("#train-form").screenshot(path=str(looks / f"lab-train-field-error-{width}.png"))
    page.fill("#train-width", "16")
    page.click("#train-reset")
    sync_api.expect(page.locator("#train-width-error")).to_be_hidden()
    page.click("#train-step")
    sync_api.expect(page.locator("#net-1-health tbody tr")).to_have_count(3)

    # The cards stay inside the panel; the health table fits or scrolls with a visible cue.
    layout = page.evaluate(
        """() => {
        const panel = document.getElementById('training-panel').getBoundingClientRect();
        const cards = [...document.querySelectorAll('.network')].map(c => c.getBoundingClientRect());
        const boxes = [...document.querySelectorAll('.health-scroll')];
        return {
            page: document.documentElement.scrollWidth,
            inside: cards.every(c => c.left >= panel.left && c.right <= panel.right),
            fits: boxes.every(b => b.scrollWidth <= b.clientWidth),
            cue: boxes.every(b => getComputedStyle(b).backgroundImage.includes('gradient')),
        };
    }"""
    )
    assert layout["page"] <= width and layout["inside"]
    assert layout["fits"] or layout["cue"]
    page.locator("#training-panel").screenshot(path=str(looks / f"lab-training-{width}.png"))
    page.close()
    assert [p for p in problems if "400 (Bad Request)" not in p] == []


def test_the_training_panel_says_when_it_lost_the_server(browser):
    with serving_lab() as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]")
        sync_api.expect(page.locator("#train-status")).to_contain_text("step 0")
    # The server has stopped under the open page.
    sync_api.expect(page.locator("#train-error")).to_contain_text("lost the lab server")
    sync_api.expect(page.locator("#train-status")).to_have_text("lost the server")
    page.close()


def _post(url, path):
    request = urllib.request.Request(
        url.rstrip("/") + path, data=b"{}", headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_a_tab_past_the_labs_capacity_says_why_and_disables_training(browser, lab_server, shots):
    taken = []  # fill the lab with sessions, as other tabs would
    while (answer := _post(lab_server, "/api/sessions"))[0] == 201:
        taken.append(answer[1]["session"])
    assert answer[0] == 429 and len(taken) <= limits.MAX_SESSIONS
    problems = []
    try:
        for width in (400, 1280):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on(
                "console",
                lambda m: (
                    problems.append(m.text)
                    if m.type == "error" and "429" not in m.text  # the refused session itself
                    else None
                ),
            )
            page.set_default_timeout(15_000)
            page.goto(lab_server)
            page.wait_for_selector("body[data-ready=true]")
            error = page.locator("#train-error")
            sync_api.expect(error).to_be_visible()
            sync_api.expect(error).to_contain_text("No training here: the lab is full")
            sync_api.expect(page.locator("#train-status")).to_have_text(
                "training is off in this tab"
            )
            controls = page.locator(
                "#training-panel button, #training-panel input, #training-panel select"
            )
            assert controls.count() >= 8
            for k in range(controls.count()):
                assert controls.nth(k).is_disabled()
            # What needs no session still works: the expression panel answers.
            page.fill("#expression", "x*y")
            page.wait_for_selector("#var-y-number")
            sync_api.expect(page.locator("#graph-value")).to_have_text("o = 1")
            page.locator("#training-panel").screenshot(path=str(shots / f"lab-full-{width}.png"))
            page.close()
    finally:
        for sid in taken:
            _post(lab_server, f"/api/sessions/{sid}/close")
    assert problems == []
