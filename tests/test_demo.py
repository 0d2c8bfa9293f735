"""`tinygrad-act demo`: the static walkthrough page, built end to end on the quick budget."""

import html
import math
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pytest

from tinygrad_act.activations import LECTURE
from tinygrad_act.demo import activation_curves, lecture_neuron

SVG = "{http://www.w3.org/2000/svg}"
pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")
pytest.importorskip("tqdm")
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed"
)


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs, self.headings, self.tags, self._in_h2 = [], [], [], False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.refs += [value for name, value in attrs if name in ("src", "href")]
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag):
        self._in_h2 = False if tag == "h2" else self._in_h2

    def handle_data(self, data):
        if self._in_h2:
            self.headings.append(data.strip())


@pytest.fixture
def page(demo_build):
    return demo_build  # one quick build for the whole session (conftest.py)


@needs_dot
def test_demo_quick_writes_index_html_and_prints_its_path(page):
    out, code, stdout, stderr = page
    assert code == 0
    assert stdout.strip() == str(out / "index.html")
    for stage in ("[1/4]", "[2/4]", "[3/4]", "[4/4]", "done in"):
        assert stage in stderr  # progress is visible on the terminal


@needs_dot
def test_every_file_the_page_references_exists_and_is_a_valid_image(page):
    out = page[0]
    parser = _Page()
    parser.feed((out / "index.html").read_text(encoding="utf-8"))
    assert len(parser.refs) >= 4 + 2 + 3 + 3
    for ref in parser.refs:
        assert "://" not in ref and not ref.startswith("/")  # self-contained: relative files only
        path = out / ref
        assert path.is_file(), ref
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", ref
        else:
            assert path.suffix == ".svg", ref
            assert ET.parse(path).getroot().tag.endswith("svg"), ref


@needs_dot
def test_page_has_its_five_sections_in_order_and_no_scripts(page):
    text = (page[0] / "index.html").read_text(encoding="utf-8")
    parser = _Page()
    parser.feed(text)
    assert [h.split(".")[0] for h in parser.headings] == ["1", "2", "3", "4", "5"]
    assert "script" not in parser.tags and "http" not in text
    positions = [text.index(f"activation-{name}.png") for name in LECTURE]
    assert positions == sorted(positions)
    assert text.index("neuron-before.svg") < text.index("neuron-after.svg") < text.index("step-000")
    assert (
        text.index("moons-loss.png")
        < text.index("moons-boundary.png")
        < text.index("moons-compare")
    )


@needs_dot
def test_the_table_shows_the_slides_numbers(page):
    text = (page[0] / "index.html").read_text(encoding="utf-8")
    table = text[text.index('<section id="table">') : text.index('<section id="activations">')]
    assert "<td>a(1-a)</td><td>0.0</td><td>0.5</td><td>0.25</td><td>0.25</td>" in table
    assert "<td>1-a²</td><td>0.0</td><td>0</td><td>1</td><td>1</td>" in table
    assert table.count("<tr>") == 1 + 3 * len(LECTURE)
    assert "<td>NO</td>" not in table


@needs_dot
def test_neuron_frames_are_all_on_the_page(page):
    out = page[0]
    frames = sorted(p.name for p in (out / "neuron-steps").iterdir())
    text = (out / "index.html").read_text(encoding="utf-8")
    assert frames and all(f"neuron-steps/{name}" in text for name in frames)


@pytest.mark.parametrize("name", LECTURE)
def test_backprop_over_the_grid_matches_the_slides_formula(name):
    z, a, backprop, formula = activation_curves(name)
    np.testing.assert_allclose(backprop, formula, rtol=1e-12, atol=1e-15)
    assert z[200] == 0.0 and backprop[200] == {"sigmoid": 0.25}.get(name, 1.0)


def test_lecture_neuron_gradients_are_the_known_ones():
    o = lecture_neuron()
    o.backward()
    leaves = {}
    stack = [o]
    while stack:
        node = stack.pop()
        leaves.update({p.label: p for p in node._prev if not p._prev})
        stack.extend(node._prev)
    assert o.data == pytest.approx(0.7071067811865476)
    assert leaves["x1"].grad == pytest.approx(-1.5) and leaves["w1"].grad == pytest.approx(1.0)
    assert leaves["x2"].grad == pytest.approx(0.5) and leaves["w2"].grad == pytest.approx(0.0)
    assert leaves["b"].grad == pytest.approx(0.5)


@needs_dot
def test_page_has_a_viewport_tag_so_phones_do_not_zoom_out(page):
    text = (page[0] / "index.html").read_text(encoding="utf-8")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert text.count('<div class="scroll"><table>') == 2  # both tables scroll in their own box


@needs_dot
def test_captions_say_what_each_plot_shows(page):
    from tinygrad_act.demo import CAPTIONS

    text = (page[0] / "index.html").read_text(encoding="utf-8")
    assert "largest gap" not in text and "full run" not in text
    for name in LECTURE:
        assert html.escape(CAPTIONS[name], quote=True) in text
    assert "0.01 for z &lt; 0, not 0" in text  # Leaky ReLU's point, which the zoom shows


@needs_dot
def test_step_captions_number_the_frames_as_their_titles_do(page):
    out = page[0]
    text = (out / "index.html").read_text(encoding="utf-8")
    frames = sorted((out / "neuron-steps").iterdir())
    n = len(frames) - 1
    for k, frame in enumerate(frames):
        assert f"Step {k} of {n}" in text
        title = " ".join(t.text for t in ET.parse(frame).getroot().iter(SVG + "text") if t.text)
        assert f"step {k} of {n}:" in title
    assert "frame 0" not in text


@needs_dot
def test_tanh_at_10_is_shown_with_the_digits_its_tiny_slope_needs(page):
    # Rounded to -1, tanh(-10) beside 1-a² = 8.2e-09 read as false arithmetic (1-1² = 0).
    text = (page[0] / "index.html").read_text(encoding="utf-8")
    table = text[text.index('<section id="table">') : text.index('<section id="activations">')]
    a = math.tanh(-10.0)
    shown = f"{a:.15g}"
    assert f"<td>{shown}</td><td>{1 - a * a:.6g}</td>" in table
    assert f"{1 - float(shown) ** 2:.6g}" == f"{1 - a * a:.6g}"  # the shown a gives the shown slope
    assert "≈" not in table
