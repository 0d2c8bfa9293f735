"""Training settings: one table of what each accepts, one message naming the field and the accepted
values, the same from the library, the command line and the lab."""

import math

import pytest

from tinygrad_act import cli, settings
from tinygrad_act.settings import SettingError, check


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("width", 2.5, "width must be a whole number from 1 to 32, got 2.5"),
        ("width", 0, "width must be a whole number from 1 to 32, got 0"),
        ("width", True, "width must be a whole number from 1 to 32, got True"),
        ("depth", "3", "depth must be a whole number from 1 to 4, got '3'"),
        ("epochs", 100_001, "epochs must be a whole number from 1 to 100000, got 100001"),
        ("seed", -1, "seed must be a whole number from 0 to 2**32 - 1 (4294967295), got -1"),
        ("seed", 2**32, "seed must be a whole number from 0 to 2**32 - 1 (4294967295), got 4294967296"),
        ("lr", 0, "lr must be a number from 0.0001 to 10, got 0"),
        ("lr", math.nan, "lr must be a number from 0.0001 to 10, got nan"),
        ("lr", math.inf, "lr must be a number from 0.0001 to 10, got inf"),
        ("lr", "0.1", "lr must be a number from 0.0001 to 10, got '0.1'"),
        ("lr", None, "lr is missing: give a number from 0.0001 to 10"),
        ("lr", "", "lr is missing: give a number from 0.0001 to 10"),
        ("lr", "  ", "lr is missing: give a number from 0.0001 to 10"),
        ("width", None, "width is missing: give a whole number from 1 to 32"),
        ("dataset", "mnist", "dataset must be one of moons, digits, got 'mnist'"),
        ("batch_size", 0, "batch_size must be a whole number from 1 to 4096, got 0"),
        ("width", 10**400, "width must be a whole number from 1 to 32, got 1" + "0" * 38 + "…"),  # 40 characters of it
    ],
)  # fmt: skip
def test_a_refused_setting_names_the_field_the_accepted_values_and_what_it_got(
    name, value, message
):
    with pytest.raises(SettingError) as info:
        check(name, value)
    assert str(info.value) == message
    assert info.value.name == name and isinstance(info.value, ValueError)


def test_an_activation_must_be_registered_and_elementwise():
    with pytest.raises(SettingError) as info:
        check("activation", "tanhh")
    assert str(info.value) == (
        "activation: unknown activation 'tanhh'; give one of the elementwise activations sigmoid, "
        "tanh, relu, leaky_relu, softplus, elu, silu, gelu; did you mean tanh?"
    )
    with pytest.raises(SettingError, match="must be one of the elementwise activations sigmoid, "
                       "tanh, relu, .*got 'softmax', which is not elementwise"):  # fmt: skip
        check("activation", "softmax")
    assert check("activation", "tanh") == "tanh"


def test_accepted_values_come_back_as_the_run_takes_them():
    assert check("depth", 2.0) == 2 and type(check("depth", 2.0)) is int
    assert check("lr", 1) == 1.0 and type(check("lr", 1)) is float
    assert check("seed", 2**32 - 1) == 2**32 - 1
    assert settings.bounds("width") == (1, 32)


def test_the_library_runs_refuse_their_settings_before_loading_data():
    from tinygrad_act.train import train_digits, train_moons

    with pytest.raises(SettingError, match="hidden must be a whole number from 1 to 1024, got 0"):
        train_digits(epochs=1, hidden=0, progress=False)
    with pytest.raises(SettingError, match="lr must be a number from 0.0001 to 10, got -0.5"):
        train_digits(epochs=1, lr=-0.5, progress=False)
    with pytest.raises(
        SettingError, match="epochs must be a whole number from 1 to 100000, got 2.5"
    ):
        train_moons(epochs=2.5, progress=False)


def test_the_lab_settings_are_checked_by_the_library():
    from tinygrad_act.lab.training import Settings

    with pytest.raises(SettingError, match="width must be a whole number from 1 to 32, got 2.5"):
        Settings(width=2.5)
    with pytest.raises(SettingError, match="lr is missing"):
        Settings(lr=None)
    with pytest.raises(SettingError, match=r"activations\[1\] must be one of the elementwise"):
        Settings(activations=("relu", "softmax"))
    assert Settings(depth=2.0, lr=1).as_dict()["depth"] == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "2.5"], "--epochs takes a whole number from 1 to 100000, got '2.5'"),
        (["--epochs", ""], "--epochs takes a whole number from 1 to 100000, got ''"),
        (["--seed", "x"], "--seed takes a whole number from 0 to 2**32 - 1 (4294967295), got 'x'"),
    ],
)
def test_the_command_line_says_the_librarys_words_about_its_option(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(message)
