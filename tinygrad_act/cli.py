"""The ``tinygrad-act`` command (also ``python -m tinygrad_act``).

Each subcommand has its handler here; the work itself lives in the library modules.
Bad arguments give a one-line error and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys


class UsageError(Exception):
    """A problem with the command line: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _points(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--at takes numbers, got {text!r}") from None


# ---- handlers --------------------------------------------------------------------------------------


def cmd_derivatives(args):
    from tinygrad_act.gradcheck import derivative_table, format_derivative_table

    rows = derivative_table(points=args.at, names=args.activation)
    print(format_derivative_table(rows))
    return 0 if all(row.agree for row in rows) else 1


def cmd_check(args):
    from tinygrad_act.gradcheck import check_activations

    results = check_activations(names=args.activation)
    width = max(len(name) for name in results)
    for name, problem in results.items():
        print(f"{name:<{width}}  {'ok' if problem is None else 'FAIL: ' + problem}")
    failed = [name for name, problem in results.items() if problem is not None]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def cmd_graph(args):
    from tinygrad_act.expression import parse_expression, parse_settings
    from tinygrad_act.viz import FORMATS, GraphvizNotFoundError, draw_backward_steps, save_graph

    if os.path.splitext(args.output)[1].lower().lstrip(".") not in FORMATS:
        accepted = ", ".join("." + f for f in FORMATS)
        raise UsageError(f"-o {args.output!r}: the picture must end in one of {accepted}")
    root = parse_expression(args.expression, parse_settings(args.set))
    try:
        if args.steps:
            frames = draw_backward_steps(root, args.steps, fmt=args.steps_format)
        else:
            root.backward()
        path = save_graph(root, args.output, show_local=args.show_local)
    except (GraphvizNotFoundError, OSError) as err:
        raise UsageError(" ".join(str(err).split())) from None
    leaves = sorted(
        {p for p in _graph_nodes(root) if p.label and not p._prev}, key=lambda v: v.label
    )
    print(f"{args.expression} = {root.data:.6g}")
    for leaf in leaves:
        print(f"  d/d{leaf.label} = {leaf.grad:.6g}")
    print(f"wrote {path}")
    if args.steps:
        print(f"wrote {len(frames)} backprop frames to {args.steps}")
    return 0


def _graph_nodes(root):
    seen, stack = {root}, [root]
    while stack:
        for p in stack.pop()._prev:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return seen


def cmd_train(args):
    from tinygrad_act import train

    if args.epochs is not None and args.epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {args.epochs}")
    outcome = train.run(
        dataset=args.dataset,
        activation=args.activation,
        epochs=args.epochs,
        seed=args.seed,
        out=args.out,
        compare=args.compare_activations,
        health=args.health,
    )
    for name, run in outcome.runs.items():
        test = "" if run.test_accuracy is None else f", test accuracy {run.test_accuracy:.1%}"
        print(
            f"{run.dataset} {name}: {run.steps} steps in {run.seconds:.1f} s, final loss "
            f"{run.losses[-1] if run.steps else float('nan'):.4f}, "
            f"train accuracy {run.train_accuracy:.1%}{test}"
        )
    monitors = {name: run.health for name, run in outcome.runs.items() if run.health}
    if monitors:
        from tinygrad_act.health import format_health_table

        print(f"activation health at the last step:\n{format_health_table(monitors)}")
    for path in outcome.paths:
        print(f"wrote {path}")
    if outcome.interrupted:
        print("interrupted: stopped after the current step", file=sys.stderr)
        return 130
    return 0


def cmd_demo(args):
    from tinygrad_act.demo import build
    from tinygrad_act.viz import GraphvizNotFoundError

    def progress(message):
        print(message, file=sys.stderr, flush=True)

    try:
        index = build(args.out, quick=args.quick, log=progress)
    except GraphvizNotFoundError as err:
        raise UsageError(" ".join(str(err).split())) from None
    print(index)
    return 0


# ---- the parser --------------------------------------------------------------------------------------


def build_parser():
    parser = _Parser(
        prog="tinygrad-act",
        description="Derivatives of activation functions, backprop and gradient checking, shown.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("derivatives", help="the lecture's table: g(z) and g'(z) three ways")
    p.add_argument("--at", nargs="+", type=_points, default=None, metavar="Z",
                   help="points z (default: the slide's -10 0 10)")  # fmt: skip
    p.add_argument("--activation", nargs="+", default=None, metavar="NAME",
                   help="activations to show (default: all registered)")  # fmt: skip
    p.set_defaults(handler=cmd_derivatives)

    p = sub.add_parser("check", help="gradcheck every registered activation")
    p.add_argument("--activation", nargs="+", default=None, metavar="NAME",
                   help="activations to check (default: all registered)")  # fmt: skip
    p.set_defaults(handler=cmd_check)

    p = sub.add_parser("graph", help="draw an expression's graph after backward")
    p.add_argument("expression", help='e.g. "tanh(x*w + b)"')
    p.add_argument("--set", action="append", default=[], metavar="NAME=NUMBER",
                   help="a variable's value (repeat for each variable)")  # fmt: skip
    p.add_argument("-o", "--output", default="graph.svg",
                   help="picture file: .svg, .png, .pdf or .dot (default: graph.svg)")  # fmt: skip
    p.add_argument("--steps", metavar="DIR", help="also write the backprop step frames into DIR")
    p.add_argument("--show-local", action="store_true",
                   help="label edges with local derivatives")  # fmt: skip
    p.add_argument("--steps-format", choices=["svg", "png", "pdf", "dot"], default="svg",
                   help="format of the step frames (default: svg)")  # fmt: skip
    p.set_defaults(handler=cmd_graph)

    p = sub.add_parser("train", help="train a small network and plot the run")
    p.add_argument("--dataset", choices=["moons", "digits"], default="moons",
                   help="moons: scalar MLP(2, [16, 16, 1]); digits: tensor MLP (default: moons)")  # fmt: skip
    p.add_argument("--activation", default=None,
                   help="activation of the hidden layers (default: relu, as micrograd)")  # fmt: skip
    p.add_argument("--epochs", type=int, default=None,
                   help="training steps for moons (default 100), passes over the data for digits (default 20)")  # fmt: skip
    p.add_argument(
        "--seed", type=int, default=0, help="seed of data split and weights (default: 0)"
    )
    p.add_argument("--out", default="train-out", metavar="DIR",
                   help="where the plots go (default: train-out)")  # fmt: skip
    p.add_argument("--compare-activations", action="store_true",
                   help="train once per lecture activation and plot them together")  # fmt: skip
    p.add_argument("--health", action="store_true",
                   help="record activation health every step: health.png and a per-layer table")  # fmt: skip
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("demo", help="write the lecture walkthrough page (what `make demo` runs)")
    p.add_argument("--out", default="demo-out", metavar="DIR")
    p.add_argument("--quick", action="store_true", help="the same path on a smaller budget")
    p.set_defaults(handler=cmd_demo)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except UsageError as err:
        print(f"tinygrad-act {args.command}: error: {err}", file=sys.stderr)
        return 2
    except ValueError as err:  # bad values found past parsing (an unknown activation name, ...)
        print(f"tinygrad-act {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
