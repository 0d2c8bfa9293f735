"""The ``tinygrad-act`` command (also ``python -m tinygrad_act``).

Each subcommand has its handler here; the work itself lives in the library modules.
Bad arguments give a one-line error and exit code 2, never a traceback; Ctrl-C gives one line and
exit code 130, and the files already written stay whole (they are written through temporary files).
Output folders are created and test-written before any work starts.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading

from tinygrad_act import __version__, settings

PROBE_BYTES = 256 * 1024  # about one plot: an --out folder must take this before work starts


class UsageError(Exception):
    """A problem with the command line: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    # argparse takes "-1e3" for an option (its own pattern knows only -1 and -1.5): numbers in
    # scientific notation, and -inf / -nan (refused later, by name), are values.
    _NUMBER = re.compile(
        r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.IGNORECASE
    )

    # For a parser that takes an expression: anything after one "-" that is not one of its own
    # options (-o, -h) is a value, so "-x*w" is the expression -x*w.
    _VALUE = re.compile(r"^-(?!-)")

    def __init__(self, *args, expression=False, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = self._VALUE if expression else self._NUMBER

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _points(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--at takes numbers, got {text!r}") from None


def _setting(name):
    """An option checked by the library's `settings.check`, its refusal in the option's words."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = text
        try:
            return settings.check(name, value)
        except settings.SettingError as err:
            raise argparse.ArgumentTypeError(
                f"--{name} takes {err.accepted}, got {text!r}"
            ) from None

    return parse


def _positive(flag):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(
                f"{flag} takes a whole number of at least 1, got {text!r}"
            )
        return value

    return parse


# ---- files: plain sentences for what the system refuses ------------------------------------------

_SENTENCES = {
    errno.ENOENT: "a folder on the way does not exist and cannot be made there",
    errno.EACCES: "permission denied",
    errno.EPERM: "the system does not allow it there",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space is left on the device",
    errno.EDQUOT: "the disk quota is used up",
    errno.EEXIST: "it exists and is not a folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder",
    errno.EFBIG: "the file would be larger than this process may write",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ELOOP: "it goes round a loop of symbolic links",
}


def _sentence(err):
    """An OSError as a plain sentence: 'no space is left on the device', not '[Errno 28] ...'."""
    text = _SENTENCES.get(err.errno)
    if text is None:
        text = (err.strerror or str(err) or type(err).__name__).lower()
    return text


def _plural(count, word):
    """'1 frame', '2 frames'."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _describe_os_error(err):
    where = err.filename if err.filename is not None else None
    return f"cannot write {where}: {_sentence(err)}" if where else _sentence(err)


def _writable_folder(path, flag, named=None):
    """Create folder `path` (and its parents) and write a probe file in it, before any work.

    `named` is what the message names (the file, for a file's folder)."""
    named = named or path
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        if os.path.exists(path) and not os.path.isdir(path):
            raise UsageError(f"{flag} {named}: {path} exists and is not a folder") from None
        raise UsageError(
            f"{flag} {named}: cannot make the folder {path}: {_sentence_in(err, path)}"
        ) from None
    try:
        with tempfile.TemporaryFile(dir=path) as probe:
            probe.write(bytes(PROBE_BYTES))
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as err:
        raise UsageError(
            f"{flag} {named}: cannot write in {path}: {_sentence_in(err, path)}"
        ) from None


def _sentence_in(err, folder):
    """`_sentence(err)` for a failure to make `folder` or a file in it. makedirs makes the missing
    folders on the way, so 'no such file' there comes from a file system that makes no new files
    (/proc says ENOENT where /sys says EACCES): name it instead of a missing folder."""
    if err.errno != errno.ENOENT:
        return _sentence(err)
    existing = os.path.abspath(folder)
    while not os.path.isdir(existing):
        existing = os.path.dirname(existing)
    kind = _file_system_type(existing)
    return f"its file system{f' ({kind})' if kind else ''} makes no new files in {existing}"


def _file_system_type(path):
    """The type of the file system `path` is on ('proc', 'sysfs', ...), from /proc/self/mounts;
    None where that cannot be read (not Linux)."""
    path = os.path.realpath(path)
    best, kind = "", None
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) < 3:
                    continue
                point = fields[1].replace("\\040", " ")
                inside = path == point or path.startswith(point.rstrip("/") + "/")
                if inside and len(point) > len(best):
                    best, kind = point, fields[2]
    except OSError:
        return None
    return kind


def _writable_file(path, flag):
    """The folder of file `path` made and test-written, and `path` itself not a folder."""
    if os.path.isdir(path):
        raise UsageError(f"{flag} {path}: it is a folder; give a file name")
    _writable_folder(os.path.dirname(path) or ".", flag, named=path)


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
    values = parse_settings(args.set)
    root = parse_expression(args.expression, values, allow_unused=False)
    if args.code:
        return _print_code(args.expression, values)
    _writable_file(args.output, "-o")
    if args.steps:
        _writable_folder(args.steps, "--steps")
    _warn_if_not_finite(root)
    try:
        if args.steps:
            frames = draw_backward_steps(
                root, args.steps, fmt=args.steps_format,
                max_nodes=args.max_nodes, max_steps=args.max_steps,
            )  # fmt: skip
        else:
            root.backward()
        path = save_graph(root, args.output, show_local=args.show_local, max_nodes=args.max_nodes)
    except GraphvizNotFoundError as err:
        raise UsageError(" ".join(str(err).split())) from None
    except subprocess.CalledProcessError as err:  # dot itself failed
        if err.returncode == -signal.SIGINT:  # Ctrl-C reached dot first
            raise KeyboardInterrupt from None
        detail = (err.stderr or b"").decode(errors="replace").strip().splitlines()
        raise UsageError(f"Graphviz's dot failed: {detail[0] if detail else err}") from None
    from tinygrad_act.backprop import topological_order
    from tinygrad_act.formatting import PRECISE, number

    nodes = topological_order(root)
    leaves = sorted((p for p in nodes if p.label and not p._prev), key=lambda v: v.label)
    print(f"{args.expression} = {number(root.data, PRECISE)}")
    for leaf in leaves:
        print(f"  d/d{leaf.label} = {number(leaf.grad, PRECISE)}")
    print(f"wrote {path}")
    if args.steps:
        steps = sum(1 for node in nodes if node.rule is not None)
        left = steps - (len(frames) - 1)
        note = ""
        if left:
            note = f" ({_plural(left, 'more step')} not drawn: --max-steps {args.max_steps})"
        print(f"wrote {_plural(len(frames), 'backprop frame')} to {args.steps}{note}")
    return 0


def _print_code(expression, values):
    """The expression's forward and backward pass as the Python a student writes (--code)."""
    from tinygrad_act.expression_code import expression_code

    code = expression_code(expression, values, allow_unused=False)
    if code.refusal is not None:
        raise UsageError(f"--code: {code.refusal}")
    print(code.text, end="")
    return 0


def _warn_if_not_finite(root):
    """One line on stderr when the result is nan or inf, naming the first node that was not finite."""
    if math.isfinite(root.data):
        return
    from tinygrad_act.backprop import topological_order
    from tinygrad_act.node_names import graph_names

    order = topological_order(root)
    first = next(n for n in order if not math.isfinite(n.data))
    name = graph_names(order)[first].text  # as the drawing names it
    print(
        f"tinygrad-act graph: warning: the result is {root.data}; the first node that is not "
        f"finite is {name} = {first.data}",
        file=sys.stderr,
    )


def cmd_train(args):
    from tinygrad_act import train

    epochs = settings.DEFAULT_EPOCHS[args.dataset] if args.epochs is None else args.epochs
    train.check_settings(args.dataset, args.activation or "relu", epochs, args.seed)
    _writable_folder(args.out, "--out")  # before the run, not after it
    outcome = train.run(
        dataset=args.dataset,
        activation=args.activation,
        epochs=args.epochs,
        seed=args.seed,
        out=args.out,
        compare=args.compare_activations,
        health=args.health,
        compile=args.compile,
    )
    for name, run in outcome.runs.items():
        if run.uncompiled_because:
            _say("train", f"note: {name} trained on the graph: {run.uncompiled_because}")
    for name, run in outcome.runs.items():
        test = "" if run.test_accuracy is None else f", test accuracy {run.test_accuracy:.1%}"
        how = "compiled" if run.compiled else "graph"
        print(
            f"{run.dataset} {name}: {_plural(run.steps, 'step')} in {run.seconds:.1f} s "
            f"({run.steps_per_second:.0f} steps/s, {how}), final loss "
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

    _writable_folder(args.out, "--out")
    try:
        index = build(args.out, quick=args.quick, log=progress)
    except GraphvizNotFoundError as err:
        raise UsageError(" ".join(str(err).split())) from None
    print(index)
    return 0


def cmd_lab(args):
    try:
        from tinygrad_act.lab.app import create_app
        from tinygrad_act.lab.server import (
            LabStartError,
            is_loopback,
            listen,
            serve,
            served_hosts,
            student_urls,
        )
    except ImportError as err:  # the web stack is the `lab` extra
        raise UsageError(
            f"the lab needs its extra ({err.name} is missing): pip install 'tinygrad_act[lab]'"
        ) from None
    try:
        sock, url = listen(args.host, args.port)
    except LabStartError as err:
        raise UsageError(err) from None
    port = sock.getsockname()[1]
    app = create_app(hosts=served_hosts(args.host, args.allow_host))
    if not is_loopback(args.host):
        print(
            f"warning: --host {args.host} listens beyond this machine: anyone on the network "
            "can use the lab",
            file=sys.stderr,
        )
    print(f"tinygrad_act lab: {url}  (Ctrl-C stops it)", flush=True)
    if not is_loopback(args.host):
        urls = student_urls(args.host, port) + [f"http://{n}:{port}/" for n in args.allow_host]
        shown = "  ".join(urls) or "(this machine has no network address: is it connected?)"
        print(f"students open: {shown}", flush=True)
    if not args.no_browser:
        import threading
        import webbrowser

        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    try:
        serve(sock, app)
    except KeyboardInterrupt:
        pass
    print("tinygrad-act lab: stopped", file=sys.stderr)
    return 130


def _host_name(text):
    name = text.strip().lower()
    if not name or (any(c in name for c in "/:@ \t") and not name.startswith("[")):
        raise argparse.ArgumentTypeError(
            f"a host name is a name or an address without scheme, port or path, got {text!r}"
        )
    return name


def _port(text):
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a port is a whole number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port lies in 0..65535, got {port}")
    return port


# ---- the parser --------------------------------------------------------------------------------------


def _command(sub, name, summary, **kwargs):
    """A subcommand whose --help starts with the same one-line summary the command list shows."""
    return sub.add_parser(name, help=summary, description=summary, **kwargs)


def build_parser():
    from tinygrad_act.expression import describe_language

    parser = _Parser(
        prog="tinygrad-act",
        description="Derivatives of activation functions, backprop and gradient checking, shown.",
    )
    parser.add_argument("--version", action="version", version=f"tinygrad-act {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = _command(sub, "derivatives", "the lecture's table: g(z) and g'(z) three ways")
    p.add_argument("--at", nargs="+", type=_points, default=None, metavar="Z",
                   help="points z, e.g. --at -1e3 0 1e3 (default: the slide's -10 0 10)")  # fmt: skip
    p.add_argument("--activation", nargs="+", default=None, metavar="NAME",
                   help="activations to show (default: all registered)")  # fmt: skip
    p.set_defaults(handler=cmd_derivatives)

    p = _command(sub, "check", "gradcheck every registered activation")
    p.add_argument("--activation", nargs="+", default=None, metavar="NAME",
                   help="activations to check (default: all registered)")  # fmt: skip
    p.set_defaults(handler=cmd_check)

    language = "\n".join(["the expression language:", *describe_language()])
    p = _command(sub, "graph", "draw an expression's graph after backward", expression=True,
                 epilog=language, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("expression", help='e.g. "tanh(x*w + b)" or "-x*w"')
    p.add_argument("--set", action="append", default=[], metavar="NAME=NUMBER",
                   help="a variable's value (repeat for each variable)")  # fmt: skip
    p.add_argument("-o", "--output", default="graph.svg",
                   help="picture file: .svg, .png, .pdf or .dot (default: graph.svg)")  # fmt: skip
    p.add_argument("--steps", metavar="DIR", help="also write the backprop step frames into DIR")
    p.add_argument("--code", action="store_true",
                   help="print the forward and backward pass as Python instead of drawing")  # fmt: skip
    p.add_argument("--show-local", action="store_true",
                   help="label edges with local derivatives")  # fmt: skip
    p.add_argument("--steps-format", choices=["svg", "png", "pdf", "dot"], default="svg",
                   help="format of the step frames (default: svg)")  # fmt: skip
    # Graphviz's layout grows much faster than the graph: these keep the largest expression the
    # parser accepts to seconds (about 0.2 s per picture of 60 values).
    p.add_argument("--max-nodes", type=_positive("--max-nodes"), default=60, metavar="N",
                   help="values drawn per picture, the ones nearest the result (default: 60)")  # fmt: skip
    p.add_argument("--max-steps", type=_positive("--max-steps"), default=30, metavar="N",
                   help="step frames drawn, the first ones (default: 30)")  # fmt: skip
    p.set_defaults(handler=cmd_graph)

    p = _command(sub, "train", "train a small network and plot the run")
    p.add_argument("--dataset", choices=settings.DATASETS, default="moons",
                   help="moons: scalar MLP(2, [16, 16, 1]); digits: tensor MLP (default: moons)")  # fmt: skip
    p.add_argument("--activation", default=None,
                   help="activation of the hidden layers (default: relu, as micrograd)")  # fmt: skip
    p.add_argument("--epochs", type=_setting("epochs"), default=None,
                   help=f"training steps for moons (default {settings.DEFAULT_EPOCHS['moons']}), "
                        f"passes over the data for digits (default {settings.DEFAULT_EPOCHS['digits']}); "
                        f"from 1 to {settings.bounds('epochs')[1]}")  # fmt: skip
    p.add_argument("--seed", type=_setting("seed"), default=0,
                   help=f"seed of data split and weights, 0 to {settings.MAX_SEED} (default: 0)")  # fmt: skip
    p.add_argument("--out", default="train-out", metavar="DIR",
                   help="where the plots go (default: train-out)")  # fmt: skip
    p.add_argument("--compare-activations", action="store_true",
                   help="train once per lecture activation and plot them together")  # fmt: skip
    p.add_argument("--health", action="store_true",
                   help="record activation health every step: health.png and a per-layer table "
                        "(the steps then run on the graph, which the health monitor reads)")  # fmt: skip
    p.add_argument("--no-compile", dest="compile", action="store_false",
                   help="build the graph at every step instead of running the step compiled "
                        "(tinygrad_act.compile: the same numbers, bit for bit)")  # fmt: skip
    p.set_defaults(handler=cmd_train)

    p = _command(sub, "demo", "write the lecture walkthrough page (what `make demo` runs)")
    p.add_argument("--out", default="demo-out", metavar="DIR",
                   help="where the page goes (default: demo-out)")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="the same path on a smaller budget")
    p.set_defaults(handler=cmd_demo)

    p = _command(
        sub,
        "lab",
        "the live lab in the browser: the engine answers every interaction",
        epilog="It listens on this machine only; for a class, --host 0.0.0.0 listens on the "
        "network and prints the URLs students open (this machine's addresses). It answers "
        "requests addressed to those addresses only (a page elsewhere cannot drive it, even by "
        "DNS rebinding): add a name students type, such as the machine's network name, with "
        "--allow-host.",
    )
    p.add_argument(
        "--port",
        type=_port,
        default=8000,
        help="port to listen on (default: 8000; 0 picks a free one)",
    )
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; "
                        "0.0.0.0: every network of this machine, for a class)")  # fmt: skip
    p.add_argument("--allow-host", action="append", default=[], type=_host_name, metavar="NAME",
                   help="also answer requests addressed to NAME, e.g. the machine's network "
                        "name (repeatable)")  # fmt: skip
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.set_defaults(handler=cmd_lab)
    return parser


def main(argv=None):
    command = ""
    try:
        args = build_parser().parse_args(argv)
        command = args.command
        return args.handler(args)
    except (UsageError, ValueError) as err:  # ValueError: bad values found past parsing
        _say(command, f"error: {err}")
        return 2
    except OSError as err:  # a write that failed after the checks (the disk filled up, ...)
        _say(command, f"error: {_describe_os_error(err)}")
        return 2
    except KeyboardInterrupt:
        _say(command, "interrupted (files already written are kept)", quiet=True)
        return 130


def _say(command, message, quiet=False):
    """One line on stderr; with `quiet`, a further Ctrl-C while it is written is ignored."""
    prog = f"tinygrad-act {command}" if command else "tinygrad-act"
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if quiet and in_main else None
    try:
        print(f"{prog}: {message}", file=sys.stderr, flush=True)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
