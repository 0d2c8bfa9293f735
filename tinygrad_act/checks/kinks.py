"""Kinks: why backprop and a central difference disagree at a non-differentiable point.

At a kink (ReLU or Leaky ReLU at exactly 0, ``max`` with tied entries) g' jumps: the central
difference averages the two one-sided slopes while backprop picks one of them (the lecture picks 1
for ReLU at 0). These functions find such points in a graph and say so by name:
"x[3] = 0.0 is a kink of relu: left slope 0, right slope 1, backward chose 1".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinygrad_act.checks.common import (
    DEFAULT_EPS,
    at,
    graph_order,
    num,
    positions,
    slope,
    subscript,
)


def explain_kinks(problem, entries, leaves, outs):
    """Sentences for the disagreeing entries (input i, element j) that move a node across its kink."""
    order = graph_order(outs)
    sites = kink_sites(order, DEFAULT_EPS if problem.eps is None else problem.eps)
    if not sites:
        return []
    sentences = []
    for i, j in entries:
        h = float(np.broadcast_to(problem.step(problem.base[i]), np.shape(problem.base[i]))[j])
        plus = graph_order(problem.evaluate(problem.leaves(i, j, h)))
        minus = graph_order(problem.evaluate(problem.leaves(i, j, -h)))
        same_graph = [n._op for n in plus] == [n._op for n in order] == [n._op for n in minus]
        x = problem.base[i] if not j else float(problem.base[i][j])
        for site in sites:
            if same_graph and not moves(site, plus, minus):
                continue
            direct = order[site.pos]._prev[0] is leaves[i] and site.element == j
            sentence = site.sentence(f"{at(problem.names[i], j)} = {num(x)}", direct)
            if sentence not in sentences:
                sentences.append(sentence)
    return sentences


@dataclass(frozen=True)
class KinkSite:
    """An element of a node's input sitting exactly on that node's kink."""

    pos: int  # the node's place in the topological order
    element: tuple  # the element of the node's input
    op: str
    at: float
    left: float
    right: float
    chosen: float | None
    ties: int = 0

    def sentence(self, subject, direct):
        slopes = f"left slope {slope(self.left)}, right slope {slope(self.right)}"
        if self.chosen is not None:
            slopes += f", backward chose {slope(self.chosen)}"
        if self.op == "max":
            others = self.ties - 1
            if direct:
                return (
                    f"{subject} ties for the max with {others} other "
                    f"entr{'y' if others == 1 else 'ies'}, a kink of max: {slopes}"
                )
            return f"{subject} makes {self.ties} entries tie at {num(self.at)} in a max: {slopes}"
        if direct:
            return f"{subject} is a kink of {self.op}: {slopes}"
        where = f"{self.op}'s input{subscript(self.element)}"
        return f"{subject} puts {where} at {num(self.at)}, a kink of {self.op}: {slopes}"


def kink_sites(order, h):
    sites = []
    for pos, node in enumerate(order):
        rule = node.rule
        if rule is None or not node._prev:
            continue
        spec = getattr(rule, "spec", None)
        z = node._prev[0].data
        if spec is not None and spec.kinks:
            for k in spec.kinks:
                hits = positions(np.asarray(z) == k)
                if not hits:
                    continue
                try:
                    left, right, chosen = one_sided(spec, rule.params, k, h)
                except (TypeError, ValueError, ArithmeticError):
                    continue  # a user's forward that only takes floats: no explanation, still a failure
                for e in hits:
                    sites.append(KinkSite(pos, e, spec.name, k, left, right, chosen))
        elif node._op == "max" and hasattr(rule, "axis"):
            a = node.data
            if not rule.keepdims and rule.axis is not None:
                a = np.expand_dims(a, rule.axis)
            top = z == a
            count = np.broadcast_to(top.sum(axis=rule.axis, keepdims=True), z.shape)
            for e in positions(top & (count > 1)):
                n = int(count[e])
                sites.append(KinkSite(pos, e, "max", float(z[e]), 0.0, 1.0, 1.0 / n, n))
    return sites


def one_sided(spec, params, k, h):
    """The slopes of g just left and right of the kink k (forward differences), and backward's choice."""
    g = np.asarray(spec.forward(np.array([k - h, k, k + h]), **params), dtype=np.float64)
    left, right = (g[1] - g[0]) / h, (g[2] - g[1]) / h
    chosen = None
    if spec.derivative is not None:
        chosen = np.asarray(spec.derivative(np.array([k]), g[1:2], **params), dtype=np.float64)
        chosen = float(chosen.reshape(-1)[0])
    return float(left), float(right), chosen


def moves(site, plus, minus):
    """Whether the site's input element differs between the graphs at x+eps and x-eps."""
    up, down = plus[site.pos]._prev[0].data, minus[site.pos]._prev[0].data
    if site.element:
        up, down = up[site.element], down[site.element]
    return up != down
