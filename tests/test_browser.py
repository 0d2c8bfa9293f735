"""What a student sees, in headless Chromium with the network off: the demo page at phone and
desktop widths, the derivatives page's math, and a wide graph inline in a narrow notebook cell.

These tests need the system's Chromium (``apt-get install chromium``) and Playwright for Python;
without either they skip, saying which is missing. ``docs/screenshots.py`` takes the pictures to
look at; these tests check what can be checked without eyes.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

_spec = importlib.util.spec_from_file_location("screenshots", DOCS / "screenshots.py")
screenshots = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(screenshots)

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed"
)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install playwright)")
    if screenshots.chromium_path() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = screenshots.launch(playwright)
        yield chromium
        chromium.close()


def open_offline(browser, url, width):
    """A page at `url`, `width` px wide, every request off this machine aborted; and that list."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    blocked = screenshots.offline(page)
    page.goto(url)
    page.wait_for_load_state("load")
    return page, blocked


# ---- the demo page ---------------------------------------------------------------------------------


@pytest.fixture
def demo_page(demo_build):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    out, code, _, stderr = demo_build
    assert code == 0, stderr
    return (out / "index.html").as_uri()


_LAYOUT = """() => {
    const plots = [...document.querySelectorAll('#activations figure')];
    const table = document.querySelector('#table .scroll');
    return {
        pageWidth: document.documentElement.scrollWidth,
        rows: new Set(plots.map(f => Math.round(f.getBoundingClientRect().top))).size,
        plotWidth: Math.round(plots[0].getBoundingClientRect().width),
        tableScrolls: table.scrollWidth > table.clientWidth,
        // On a phone each wide table stacks: rows as blocks, each cell naming its column.
        stacked: [...document.querySelectorAll('#table tbody tr, #slope-zero table.stack tr')]
            .every(r => getComputedStyle(r).display === 'block'),
        cellNames: [...document.querySelectorAll('#table tbody tr:first-child td')]
            .map(td => getComputedStyle(td, '::before').content),
        healthTable: (() => { const t = document.querySelector('#slope-zero table.stack');
            return t.parentElement.scrollWidth > t.parentElement.clientWidth; })(),
        healthGrid: (() => { const f = document.querySelector('.health-grid');
            const cue = f.querySelector('.phone-only');
            return { scrolls: f.scrollWidth > f.clientWidth, cue: cue.offsetParent !== null,
                     width: f.querySelector('img').getBoundingClientRect().width }; })(),
        brokenImages: [...document.images].filter(i => !i.complete || i.naturalWidth === 0)
            .map(i => i.src),
        fontSize: parseFloat(getComputedStyle(document.querySelector('p')).fontSize),
    };
}"""


@pytest.mark.parametrize("width", [400, 1280, 1920])
def test_the_demo_page_fits_the_screen_and_reflows(browser, demo_page, width):
    page, blocked = open_offline(browser, demo_page, width)
    layout = page.evaluate(_LAYOUT)
    page.close()
    assert layout["pageWidth"] <= width, "the page scrolls sideways"
    assert layout["brokenImages"] == [] and blocked == []
    assert layout["fontSize"] >= 14
    if width == 400:
        assert layout["rows"] == 4  # one plot per row on a phone
        # The wide tables stack instead of hiding most columns off screen (issue 23, item 7).
        assert not layout["tableScrolls"] and not layout["healthTable"] and layout["stacked"]
        assert layout["cellNames"][:3] == ["none", '"g\'(z) written: "', '"z: "']
        # The health grid keeps a readable size, one activation per screen, and says it scrolls.
        grid = layout["healthGrid"]
        assert grid["scrolls"] and grid["cue"] and grid["width"] >= 1000
    else:
        assert not layout["stacked"] and not layout["healthGrid"]["cue"]
        assert layout["rows"] <= 2  # side by side on a desktop, not one column with half empty
        assert layout["plotWidth"] >= 440


def test_the_demo_page_has_a_viewport_tag(browser, demo_page):
    page, _ = open_offline(browser, demo_page, 400)
    content = page.evaluate("document.querySelector('meta[name=viewport]').content")
    page.close()
    assert content == "width=device-width, initial-scale=1"


# ---- the docs ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def docs_site(tmp_path_factory):
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    pytest.importorskip("furo")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    out = tmp_path_factory.mktemp("docs")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout, installed or not
    run = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(DOCS), str(out)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    return out


def test_no_page_of_the_docs_loads_anything_from_another_host(docs_site):
    loads = re.compile(r"<(?:script|img|iframe)[^>]*\ssrc=\"((?:https?:)?//[^\"]+)\"|"
                       r"<link[^>]*\shref=\"((?:https?:)?//[^\"]+)\"")  # fmt: skip
    pages = sorted(docs_site.rglob("*.html"))
    assert len(pages) > 10
    remote = {
        f"{p.name}: {a or b}"
        for p in pages
        for a, b in loads.findall(p.read_text(encoding="utf-8"))
    }
    assert not remote
    math = (docs_site / "derivatives.html").read_text(encoding="utf-8")
    assert '<script defer="defer" src="_static/mathjax/tex-svg-full.js' in math
    assert (docs_site / "_static" / "mathjax" / "LICENSE").is_file()


def test_the_derivatives_page_shows_rendered_math_with_the_network_off(browser, docs_site):
    page, blocked = open_offline(browser, (docs_site / "derivatives.html").as_uri(), 1280)
    page.wait_for_function(
        "() => window.MathJax && MathJax.startup && MathJax.startup.promise"
        " && document.querySelectorAll('mjx-container svg').length > 20",
        timeout=30_000,
    )
    page.evaluate("() => MathJax.startup.promise")
    rendered = page.evaluate("document.querySelectorAll('mjx-container svg').length")
    text = page.evaluate("document.querySelector('article').innerText")
    display = page.evaluate(
        "[...document.querySelectorAll('mjx-container[display=true]')]"
        ".map(e => e.getBoundingClientRect().height)"
    )
    page.close()
    assert blocked == []
    assert rendered > 20
    for tex in ("\\frac", "\\begin{aligned}", "\\tanh", "\\(", "\\[", "$$"):
        assert tex not in text, f"raw TeX {tex!r} on the page"
    assert display and min(display) > 15  # display equations have height: they were typeset


def test_on_a_phone_a_wide_equation_scrolls_in_its_box_instead_of_being_cut(browser, docs_site):
    page, _ = open_offline(browser, (docs_site / "derivatives.html").as_uri(), 400)
    page.wait_for_function("() => document.querySelectorAll('mjx-container svg').length > 20")
    boxes = page.evaluate(
        "[...document.querySelectorAll('div.math')].map(d =>"
        " [d.scrollWidth > d.clientWidth, getComputedStyle(d).overflowX])"
    )
    page_width = page.evaluate("document.documentElement.scrollWidth")
    page.close()
    assert page_width <= 400
    assert any(wide for wide, _ in boxes)  # the sigmoid's derivation is wider than a phone
    assert all(overflow == "auto" for wide, overflow in boxes if wide)


# ---- a wide graph in a narrow notebook cell ----------------------------------------------------------


@needs_dot
def test_an_inline_graph_shrinks_to_a_narrow_cell(browser):
    from tinygrad_act.demo import lecture_neuron
    from tinygrad_act.viz import draw_dot

    svg = draw_dot(lecture_neuron(), show_local=True)._repr_mimebundle_()["image/svg+xml"]
    svg = svg[svg.index("<svg") :]
    page = browser.new_page(viewport={"width": 800, "height": 600})
    page.set_content(f'<div id="cell" style="width: 300px">{svg}</div>')
    box = page.evaluate(
        "(() => { const r = document.querySelector('#cell svg').getBoundingClientRect();"
        " return [r.width, r.height]; })()"
    )
    natural = page.evaluate(
        "(() => { const s = document.querySelector('#cell svg');"
        " s.style.maxWidth = 'none'; return s.getBoundingClientRect().width; })()"
    )
    page.close()
    width, height = box
    assert natural > 600 and width <= 300
    assert 0 < height < width  # scaled as a whole: the aspect ratio kept, not squashed
