"""What the micrograd lecture's cells rely on, beyond `_backward()` (tests/test_lecture_api.py).

The lecture (nn-zero-to-hero, lectures/micrograd) builds its neuron by hand, draws it with its own
``trace()`` over ``_prev`` before any backward, nudges ``data`` by hand, resets ``grad`` by hand
and sums with Python's ``sum``; micrograd's demo multiplies numpy integers from scikit-learn by
Values. The numbers are checked against the lecture's own formulas and central differences.
"""

from __future__ import annotations

import math
from html.parser import HTMLParser

import numpy as np
import pytest

from tinygrad_act import Value

B = 6.8813735870195432  # the lecture's bias: tanh(n) = 1/sqrt(2), so do/dn = 1/2


def lecture_neuron():
    """The lecture's neuron, built cell by cell as in the notebook, labels set after creation."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(B, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    x1w1x2w2 = x1w1 + x2w2
    x1w1x2w2.label = "x1*w1 + x2*w2"
    n = x1w1x2w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return dict(x1=x1, x2=x2, w1=w1, w2=w2, b=b, x1w1=x1w1, x2w2=x2w2, x1w1x2w2=x1w1x2w2, n=n, o=o)


def lecture_trace(root):
    """The lecture's own trace(): nodes and edges collected in sets, recursing over _prev."""
    nodes, edges = set(), set()

    def build(v):
        if v not in nodes:
            nodes.add(v)
            for child in v._prev:
                edges.add((child, v))
                build(child)

    build(root)
    return nodes, edges


def test_grad_is_zero_before_any_backward_so_the_graph_can_be_drawn_first():
    nodes, _ = lecture_trace(lecture_neuron()["o"])
    assert len(nodes) == 10
    for v in nodes:
        assert type(v.grad) is float and v.grad == 0.0
        assert "%.4f" % v.grad == "0.0000"  # noqa: UP031 (the lecture's draw_dot formats so)


def test_lecture_trace_over_prev_finds_every_node_and_edge_with_nodes_in_sets():
    net = lecture_neuron()
    nodes, edges = lecture_trace(net["o"])
    assert nodes == set(net.values())
    assert len(edges) == 9
    assert (net["n"], net["o"]) in edges and (net["x1"], net["x1w1"]) in edges


def test_values_hash_by_identity_so_equal_data_stay_distinct_in_a_set():
    a, b = Value(1.0), Value(1.0)
    assert len({a, b}) == 2 and a in {a} and b not in {a}
    c = a + a
    assert c._prev == (a, a) and len(set(c._prev)) == 1


def test_op_is_a_string_usable_in_graphviz_node_names():
    x = Value(0.5)
    made = [x + 1, x - 1, x * 2, x / 2, x**2, -x, x.exp(), x.log(), x.tanh(), x.sigmoid(),
            x.relu(), x.leaky_relu()]  # fmt: skip
    for v in made:
        assert isinstance(v._op, str) and v._op
        assert (str(id(v)) + v._op).startswith(str(id(v)))
    assert x._op == ""  # a leaf: the lecture draws no op node for it


def test_a_nudge_of_data_along_the_gradient_raises_the_output_as_the_lecture_shows():
    # Cell 10 of the first half: after L.backward(), a.data += 0.01 * a.grad for each leaf.
    a, b, c, f = Value(2.0), Value(-3.0), Value(10.0), Value(-2.0)
    L = (a * b + c) * f
    L.backward()
    for leaf in (a, b, c, f):
        leaf.data += 0.01 * leaf.grad
        assert type(leaf.data) is float
    assert ((a * b + c) * f).data == pytest.approx(-7.286496)  # the lecture's printed value


def test_finite_differences_by_nudging_data_match_the_gradient():
    def L(h=0.0):
        a, b, c, f = Value(2.0), Value(-3.0), Value(10.0), Value(-2.0)
        b.data += h
        return a, b, (a * b + c) * f

    _, b, out = L()
    out.backward()
    h = 1e-6
    assert (L(h)[2].data - L(-h)[2].data) / (2 * h) == pytest.approx(b.grad) == -4.0


def test_setting_grad_to_zero_by_hand_resets_before_the_next_backward():
    x = Value(3.0)
    y = x * x
    y.backward()
    assert x.grad == 6.0
    y.backward()
    assert x.grad == 12.0  # gradients add up, as in micrograd and PyTorch
    x.grad = 0.0
    assert type(x.grad) is float and x.grad == 0.0
    (x * x).backward()
    assert x.grad == 6.0


def test_python_sum_with_a_start_value_and_zero_plus_value():
    ws, xs, b = [Value(0.5), Value(-1.0)], [2.0, 3.0], Value(0.25)
    act = sum((wi * xi for wi, xi in zip(ws, xs, strict=True)), b)  # the lecture's Neuron
    assert isinstance(act, Value) and act.data == pytest.approx(0.5 * 2 - 3 + 0.25)
    total = sum([Value(1.0), Value(2.0)])  # starts from 0: 0 + Value
    assert isinstance(total, Value) and total.data == 3.0
    assert isinstance(0 + Value(1.0), Value)
    act.backward()
    assert [w.grad for w in ws] == xs and b.grad == 1.0


def test_tanh_written_with_exp_gives_tanhs_value_and_gradient():
    # Second half, cell 11: o = (e - 1) / (e + 1) with e = (2*n).exp().
    net = lecture_neuron()
    n = net["n"]
    e = (2 * n).exp()
    o = (e - 1) / (e + 1)
    o.backward()
    assert o.data == pytest.approx(1 / math.sqrt(2))
    assert n.grad == pytest.approx(1 - o.data**2) == pytest.approx(0.5)
    assert net["x1"].grad == pytest.approx(-1.5) and net["w1"].grad == pytest.approx(1.0)


@pytest.mark.parametrize(
    "f, df",
    [
        (lambda v: v**2, lambda x: 2 * x),
        (lambda v: -v, lambda x: -1.0),
        (lambda v: v - 1, lambda x: 1.0),
        (lambda v: 1 - v, lambda x: -1.0),
        (lambda v: 2 * v, lambda x: 2.0),
        (lambda v: v / 4, lambda x: 0.25),
        (lambda v: 2 / v, lambda x: -2 / x**2),
        (lambda v: v**-1, lambda x: -1 / x**2),
    ],
    ids=["x**2", "-v", "v - 1", "1 - v", "2*n", "v / 4", "2 / v", "v**-1"],
)
def test_the_lectures_operators_with_plain_numbers(f, df):
    x = Value(1.5)
    y = f(x)
    y.backward()
    assert isinstance(y, Value)
    assert y.data == pytest.approx(f(1.5))
    assert x.grad == pytest.approx(df(1.5))


@pytest.mark.parametrize(
    "number", [np.int64(-1), np.float64(2.5), np.int32(3)], ids=["int64", "float64", "int32"]
)
def test_numpy_scalars_from_scikit_learn_times_a_value_give_a_value(number):
    score = Value(0.75)
    for out in (number * score, score * number, -number * score, number + score):
        assert type(out) is Value
    loss = (1 + -number * score).relu()  # micrograd's demo: the SVM loss with y from make_moons
    assert type(loss) is Value
    loss.backward()
    active = 1 + -float(number) * 0.75 >= 0  # ReLU'(z) = 1 for z >= 0, as in the lecture
    assert score.grad == (-float(number) if active else 0.0)


def test_a_value_shows_in_jupyter_as_a_table_of_label_data_grad_and_op():
    net = lecture_neuron()
    net["o"].backward()
    assert table(net["x1"]) == {"label": "x1", "data": "2", "grad": "-1.5", "op": "leaf"}
    assert table(net["o"]) == {"label": "o", "data": "0.707107", "grad": "1", "op": "tanh"}
    assert table(Value(1.0, label="<b>"))["label"] == "<b>"  # escaped: shown as typed


def test_a_tensor_value_shows_its_shape_and_dtype_and_showing_it_changes_nothing():
    W = Value(np.ones((2, 3), dtype=np.float32), label="W")
    shown = table(W)
    assert (shown["shape"], shown["dtype"], shown["op"]) == ("(2, 3)", "float32", "leaf")
    assert shown["grad"] == "[[0. 0. 0.]\n [0. 0. 0.]]"
    assert W._grad is None  # no zero gradient allocated just to be shown
    assert "<pre>" in W._repr_html_()  # the array's rows stay rows


def table(value):
    """The header and the row of a Value's HTML table, as {header: text}."""

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows, self.inside = [], False

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.rows.append([])
            elif tag in ("td", "th"):
                self.rows[-1].append("")
                self.inside = True

        def handle_endtag(self, tag):
            if tag in ("td", "th"):
                self.inside = False

        def handle_data(self, data):
            if self.inside:
                self.rows[-1][-1] += data

    parser = Cells()
    parser.feed(value._repr_html_())
    header, row = parser.rows
    return dict(zip(header, row, strict=True))
