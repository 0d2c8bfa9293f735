"""The ``tinygrad-act`` command (also ``python -m tinygrad_act``).

Each subcommand has its handler here; the work itself lives in the library modules.
Bad arguments give a one-line error and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
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
    raise UsageError("the graph command is not available yet")


def cmd_train(args):
    raise UsageError("the train command is not available yet")


def cmd_demo(args):
    raise UsageError("the demo command is not available yet")


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
    p.set_defaults(handler=cmd_graph)

    p = sub.add_parser("train", help="train a small network and plot the run")
    p.add_argument("--dataset", choices=["moons", "digits"], default="moons")
    p.add_argument("--activation", default=None, help="activation of the hidden layers")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="train-out", metavar="DIR")
    p.add_argument("--compare-activations", action="store_true",
                   help="train once per lecture activation and plot them together")  # fmt: skip
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
