"""The lecture's table and the registry check: the library functions and `tinygrad-act derivatives/check`."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_act import ACTIVATIONS, register_activation, sigmoid, unregister_activation
from tinygrad_act.cli import main
from tinygrad_act.gradcheck import (
    DerivativeRow,
    check_activations,
    derivative_table,
    format_derivative_table,
    table_cells,
)

ELEMENTWISE = [name for name, spec in ACTIVATIONS.items() if not spec.tensor_only]
SCRIPT = Path(sys.executable).with_name("tinygrad-act")


def _sig(z):
    return 1 / (1 + math.exp(-z))


# ---- derivative_table ------------------------------------------------------------------------------


def test_default_table_is_every_elementwise_activation_at_the_slides_points():
    rows = derivative_table()
    assert all(isinstance(r, DerivativeRow) for r in rows)
    assert [(r.name, r.z) for r in rows] == [
        (n, z) for n in ELEMENTWISE for z in (-10.0, 0.0, 10.0)
    ]
    assert "softmax" not in {r.name for r in rows}  # a Jacobian, not a slope: left out
    assert all(r.agree for r in rows)


@pytest.mark.parametrize("z", [-10.0, 0.0, 10.0, -1.3, 2.7])
def test_sigmoid_and_tanh_rows_match_the_lectures_closed_forms(z):
    s, t = derivative_table([z], ["sigmoid", "tanh"])
    a = _sig(z)
    assert s.g == pytest.approx(a, rel=1e-12)
    assert s.formula == pytest.approx(a * (1 - a), rel=1e-12)  # a(1-a)
    assert s.backprop == pytest.approx(a * (1 - a), rel=1e-12)
    assert s.numeric == pytest.approx(a * (1 - a), rel=1e-4, abs=1e-9)
    a = math.tanh(z)
    assert t.g == pytest.approx(a, rel=1e-12)
    assert t.formula == pytest.approx(1 - a * a, rel=1e-9, abs=1e-15)  # 1-a²
    assert t.backprop == t.formula
    assert t.numeric == pytest.approx(1 - a * a, rel=1e-4, abs=1e-9)
    assert s.written == "a(1-a)" and t.written == "1-a²"


def test_the_slides_worked_values():
    rows = {(r.name, r.z): r for r in derivative_table(names=["sigmoid", "tanh"])}
    assert rows["sigmoid", 0.0].g == 0.5 and rows["sigmoid", 0.0].formula == 0.25
    assert rows["tanh", 0.0].g == 0.0 and rows["tanh", 0.0].formula == 1.0
    for z in (-10.0, 10.0):
        assert rows["sigmoid", z].formula == pytest.approx(0, abs=1e-4)
        assert rows["tanh", z].formula == pytest.approx(0, abs=1e-7)
    assert rows["sigmoid", 10.0].g == pytest.approx(1, abs=1e-4)
    assert rows["tanh", -10.0].g == pytest.approx(-1, abs=1e-8)


@pytest.mark.parametrize("name, left", [("relu", 0.0), ("leaky_relu", 0.01)])
def test_a_kink_row_is_marked_not_counted_as_a_disagreement(name, left):
    (row,) = derivative_table([0], [name])
    assert row.kink and row.agree
    assert row.formula == row.backprop == 1.0  # the lecture picks 1 at z = 0
    assert row.numeric == pytest.approx((left + 1) / 2)  # the central difference averages the sides
    assert f"left slope {left:g}, right slope 1" in row.note


def test_a_row_away_from_the_kink_is_not_a_kink():
    (row,) = derivative_table([-2.0], ["relu"])
    assert not row.kink and row.note == "" and row.formula == row.backprop == row.numeric == 0.0


def test_a_wrong_formula_makes_its_rows_disagree():
    register_activation(
        "gc_table_wrong", lambda z: sigmoid(z), lambda z, a: a * (1 + a), formula="a(1+a)"
    )
    try:
        rows = derivative_table(names=["gc_table_wrong"])
        assert "gc_table_wrong" in {r.name for r in derivative_table()}  # registered ones included
    finally:
        unregister_activation("gc_table_wrong")
    at = {r.z: r for r in rows}
    assert not at[0.0].agree and at[0.0].formula == 0.75 and at[0.0].numeric == pytest.approx(0.25)
    assert "NO" in format_derivative_table(rows)


@pytest.mark.parametrize(
    "points, message",
    [
        (["a"], "points must be finite numbers, got 'a'"),
        ([math.nan], "points must be finite numbers, got nan"),
        ([1.0, math.inf], "points must be finite numbers, got inf"),
        ([True], "points must be finite numbers, got True"),
        ([], "points is empty"),
        ("0 1", "points must be a list of numbers, got str"),
    ],
)
def test_bad_points_are_a_one_line_value_error(points, message):
    with pytest.raises(ValueError, match=message) as info:
        derivative_table(points)
    assert "\n" not in str(info.value)


def test_single_numbers_and_numpy_points_are_accepted():
    assert [r.z for r in derivative_table(2, ["tanh"])] == [2.0]
    assert [r.z for r in derivative_table(np.array([1, -1]), ["tanh"])] == [1.0, -1.0]


def test_unknown_and_tensor_only_names_are_value_errors():
    with pytest.raises(ValueError, match="unknown activation 'swish'; registered: sigmoid"):
        derivative_table(names=["swish"])
    with pytest.raises(ValueError, match="softmax maps a vector to a vector"):
        derivative_table(names=["softmax"])


def test_format_lines_up_columns_and_adds_a_footnote_per_kink():
    text = format_derivative_table(derivative_table(names=["sigmoid", "relu"]))
    lines = text.splitlines()
    assert lines[0].split("  ")[0] == "activation"
    header = lines[0]
    for col in ("g'(z) formula", "g'(z) backprop", "g'(z) numeric", "agree"):
        assert col in header
    body = lines[1:7]
    for col in ("z", "g(z)", "g'(z) formula", "g'(z) backprop", "g'(z) numeric"):
        end = header.index(f" {col} ") + 1 + len(col)  # numbers are right-aligned under the header
        assert all(line[end - 1] != " " and line[end] == " " for line in body), col
    relu_zero = next(line for line in body if line.startswith("relu") and " 0.0 " in line)
    assert relu_zero.endswith("kink [1]")
    assert lines[7].startswith("[1] relu has a kink at z = 0.0: left slope 0, right slope 1")
    assert format_derivative_table([]) == "(no rows)"


def test_g_is_printed_with_the_digits_that_make_the_written_formula_true():
    # tanh(10) = 0.99999999588: printed as 1, the table read 1-1² = 8.24461e-09.
    cells, _ = table_cells(derivative_table([10.0, -10.0, 3.0], ["tanh", "sigmoid"]))
    for name, written, z, g, formula, *_ in cells:
        a = float(g)
        value = 1 - a * a if written == "1-a²" else a * (1 - a)  # the slide's formulas, by hand
        assert f"{value + 0.0:.6g}" == formula, (name, z, g, formula)
    tanh_ten = next(c for c in cells if c[0] == "tanh" and c[2] == "10.0")
    assert tanh_ten[3].startswith("0.99999999") and tanh_ten[4] == "8.24461e-09"


@pytest.mark.parametrize(("name", "z"), [("sigmoid", 40.0), ("tanh", 40.0), ("tanh", -40.0)])
def test_a_slope_below_float64s_resolution_is_footnoted_not_just_agreed(name, z):
    # At z = 40 sigmoid(z) rounds to 1: a(1-a), backprop and the central difference all give 0,
    # though the exact slope is e^-40 ≈ 4.2e-18. The row says what its columns can show.
    cells, notes = table_cells(derivative_table([z], [name]))
    assert cells[0][4:7] == ["0", "0", "0"]
    assert cells[0][-1] == "yes [1]"
    assert notes[0].startswith(f"{name} at z = {z}: g(z) rounds to {cells[0][3]} in float64")
    assert "cannot see a slope below 2.8e-12" in notes[0]  # spacing(1) / (2 · 4e-05)
    # Where float64 does resolve the slope (sigmoid at -40, 4.2e-18), there is no note.
    cells, notes = table_cells(derivative_table([-40.0, 10.0], ["sigmoid"]))
    assert [c[-1] for c in cells] == ["yes", "yes"] and notes == []
    assert cells[0][4] == f"{math.exp(-40) / (1 + math.exp(-40)) ** 2:.6g}"


# ---- check_activations -----------------------------------------------------------------------------


def test_check_activations_passes_the_whole_registry():
    results = check_activations()
    assert list(results) == list(ACTIVATIONS)
    assert all(problem is None for problem in results.values())


def test_check_activations_reports_a_crashing_derivative_in_one_line():
    def broken(z, a):
        raise ZeroDivisionError("no slope here\nsecond line")

    register_activation("gc_crashing", lambda z: sigmoid(z), broken)
    try:
        problem = check_activations(["gc_crashing"])["gc_crashing"]
    finally:
        unregister_activation("gc_crashing")
    assert problem == "raised ZeroDivisionError: no slope here"


def test_check_activations_unknown_name_is_a_value_error():
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        check_activations(["nope"])


# ---- the command line, in process --------------------------------------------------------------------


def test_derivatives_prints_the_lectures_table_and_exits_0(capsys):
    assert main(["derivatives"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("activation")
    assert "a(1-a)" in out and "1-a²" in out and "kink [1]" in out
    sigmoid_zero = next(
        line for line in out.splitlines() if line.startswith("sigmoid") and " 0.0 " in line
    )
    assert sigmoid_zero.split()[-5:] == ["0.5", "0.25", "0.25", "0.25", "yes"]


def test_derivatives_at_chosen_points_for_chosen_activations(capsys):
    assert main(["derivatives", "--at", "-1.5", "2", "--activation", "tanh", "relu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["tanh", "tanh", "relu", "relu"]
    assert lines[1].split()[2] == "-1.5"


def test_derivatives_exits_1_when_a_formula_disagrees(capsys):
    register_activation("gc_cli_wrong", lambda z: sigmoid(z), lambda z, a: a * (1 + a))
    try:
        assert main(["derivatives", "--activation", "gc_cli_wrong"]) == 1
    finally:
        unregister_activation("gc_cli_wrong")
    assert "NO" in capsys.readouterr().out


def test_check_prints_one_line_per_activation_and_exits_0(capsys):
    assert main(["check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == list(ACTIVATIONS)
    assert all(line.split()[1] == "ok" for line in lines[:-1])
    assert lines[-1] == f"{len(ACTIVATIONS)} passed, 0 failed"


def test_check_exits_1_and_names_a_failing_activation(capsys):
    register_activation("gc_cli_wrong", lambda z: sigmoid(z), lambda z, a: a * (1 + a))
    try:
        assert main(["check", "--activation", "sigmoid", "gc_cli_wrong"]) == 1
    finally:
        unregister_activation("gc_cli_wrong")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["sigmoid", "ok"]
    assert lines[1].startswith("gc_cli_wrong  FAIL: z = 0.0: backprop 0.75, numeric 0.25")
    assert lines[2] == "1 passed, 1 failed"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["derivatives", "--activation", "swish"], "unknown activation 'swish'"),
        (["derivatives", "--at", "nan"], "points must be finite numbers, got nan"),
        (["derivatives", "--activation", "softmax"], "softmax maps a vector to a vector"),
        (["check", "--activation", "nope"], "unknown activation 'nope'"),
    ],
)
def test_bad_values_give_one_line_on_stderr_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert lines[0].startswith(f"tinygrad-act {argv[0]}: error: ")


def test_a_non_number_point_is_an_argparse_error_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["derivatives", "--at", "ten"])
    assert info.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["tinygrad-act derivatives: error: argument --at: --at takes numbers, got 'ten'"]


@pytest.mark.parametrize("command", ["derivatives", "check"])
def test_help_describes_each_subcommand(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "--activation" in capsys.readouterr().out


# ---- the installed console script, as a user runs it ---------------------------------------------------


def _run(*args):
    if not SCRIPT.exists():
        pytest.skip(f"the console script is not installed next to {sys.executable}")
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_console_script_derivatives_prints_the_table():
    result = _run("derivatives")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].startswith("activation")
    assert sum(line.startswith("sigmoid ") for line in lines) == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (["derivatives", "--at", "x"], "--at takes numbers, got 'x'"),
        (["derivatives", "--activation", "nope"], "unknown activation 'nope'"),
        (["check", "--activation", "nope"], "unknown activation 'nope'"),
    ],
)
def test_console_script_bad_arguments_exit_2_with_one_line(args, message):
    result = _run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_python_dash_m_check_runs_the_registry_check():
    result = subprocess.run(
        [sys.executable, "-m", "tinygrad_act", "check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].endswith("passed, 0 failed")
