"""tinygrad_act.nn: micrograd-compatible scalar networks, tensor modules, losses, optimizers, saving."""

import errno
import inspect
import math
import os
import pickle
import random
import subprocess
import sys
import textwrap
import tracemalloc
import types
import zipfile

import numpy as np
import pytest
from conftest import central_difference

import tinygrad_act
from tinygrad_act import Value
from tinygrad_act.nn import (
    MLP,
    SGD,
    Activation,
    Adam,
    Layer,
    LeakyReLU,
    Linear,
    Module,
    Neuron,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
    binary_cross_entropy_with_logits,
    cross_entropy,
    init_for,
    l2_penalty,
    mlp,
    mse_loss,
    svm_hinge_loss,
)

micrograd_engine = pytest.importorskip("micrograd.engine")
micrograd_nn = pytest.importorskip("micrograd.nn")


def moons_like(n=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = np.where(X[:, 0] * X[:, 1] > 0, 1, -1)
    return X, y


def copy_weights(src, dst):
    for ps, pd in zip(src.parameters(), dst.parameters(), strict=True):
        pd.data = float(ps.data)


def demo_step(model, value_cls, X, y, k, alpha=1e-4):
    """One step of micrograd's demo notebook, verbatim, on the given Value class."""
    inputs = [list(map(value_cls, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores, strict=True)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = alpha * sum(p * p for p in model.parameters())
    total_loss = data_loss + reg_loss
    model.zero_grad()
    total_loss.backward()
    learning_rate = 1.0 - 0.9 * k / 100
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    return total_loss.data


# ---- scalar networks against micrograd -----------------------------------------------------------


def test_mlp_repr_and_parameter_count_match_micrograd():
    random.seed(0)
    theirs = micrograd_nn.MLP(2, [16, 16, 1])
    ours = MLP(2, [16, 16, 1])
    assert repr(ours) == repr(theirs)
    assert len(ours.parameters()) == len(theirs.parameters()) == 337
    assert (
        repr(Neuron(3, nonlin=False))
        == repr(micrograd_nn.Neuron(3, nonlin=False))
        == "LinearNeuron(3)"
    )


def test_global_random_seed_gives_micrograds_weights():
    random.seed(42)
    theirs = micrograd_nn.MLP(3, [4, 1])
    random.seed(42)
    ours = MLP(3, [4, 1])
    assert [p.data for p in ours.parameters()] == [p.data for p in theirs.parameters()]


def test_mlp_gives_micrographs_outputs_and_gradients_with_copied_weights():
    random.seed(7)
    theirs = micrograd_nn.MLP(3, [8, 8, 2])
    ours = MLP(3, [8, 8, 2], rng=random.Random(99))
    copy_weights(theirs, ours)
    x = [0.5, -1.25, 2.0]
    out_t = theirs([micrograd_engine.Value(v) for v in x])
    out_o = ours(x)
    assert [o.data for o in out_o] == [t.data for t in out_t]
    (out_t[0] * out_t[1]).backward()
    (out_o[0] * out_o[1]).backward()
    for pt, po in zip(theirs.parameters(), ours.parameters(), strict=True):
        assert po.grad == pytest.approx(pt.grad, rel=1e-12, abs=1e-15)


def test_layer_with_one_neuron_returns_it_bare_and_checks_input_length():
    layer = Layer(2, 1, rng=random.Random(0))
    assert isinstance(layer([1.0, 2.0]), Value)
    assert len(Layer(2, 3, rng=random.Random(0))([1.0, 2.0])) == 3
    with pytest.raises(ValueError, match=r"ReLUNeuron\(2\) takes 2 inputs, got 3"):
        layer([1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    ("name", "fn", "shown"),
    [
        ("tanh", math.tanh, "TanhNeuron(2)"),
        ("sigmoid", lambda z: 1 / (1 + math.exp(-z)), "SigmoidNeuron(2)"),
        ("leaky_relu", lambda z: z if z >= 0 else 0.01 * z, "LeakyReLUNeuron(2)"),
    ],
)
def test_neuron_uses_the_chosen_activation(name, fn, shown):
    n = Neuron(2, activation=name, rng=random.Random(3))
    n.b.data = -0.7
    z = n.b.data + n.w[0].data * 0.3 + n.w[1].data * -0.4
    assert n([0.3, -0.4]).data == pytest.approx(fn(z), rel=1e-14)
    assert repr(n) == shown


def test_neuron_rejects_unknown_and_tensor_only_activations():
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        Neuron(2, activation="nope")
    with pytest.raises(ValueError, match="tensors only"):
        MLP(2, [3, 1], activation="softmax")


def test_scalar_mlp_runs_a_whole_batch_as_tensors_with_the_same_numbers():
    X, y = moons_like(12)
    model = MLP(2, [6, 1], rng=random.Random(1))
    per_point = [model(list(map(Value, row))).data for row in X]
    batched = model([Value(X[:, 0]), Value(X[:, 1])])
    np.testing.assert_allclose(batched.data, per_point, rtol=1e-12)
    loss_a = svm_hinge_loss([model(list(map(Value, row))) for row in X], y)
    model.zero_grad()
    loss_a.backward()
    grads_a = [p.grad for p in model.parameters()]
    model.zero_grad()
    loss_b = svm_hinge_loss(model([Value(X[:, 0]), Value(X[:, 1])]), y)
    loss_b.backward()
    assert loss_b.item() == pytest.approx(loss_a.data, rel=1e-12)
    np.testing.assert_allclose(
        [p.grad for p in model.parameters()], grads_a, rtol=1e-10, atol=1e-14
    )


def micrograd_nn_on(value_cls):
    """micrograd's own nn.py source, with only its engine import swapped for `value_cls`."""
    source = inspect.getsource(micrograd_nn)
    line = "from micrograd.engine import Value"
    assert source.count(line) == 1
    module = types.ModuleType("micrograd_nn_under_test")
    module.Value = value_cls
    exec(compile(source.replace(line, ""), "micrograd/nn.py", "exec"), module.__dict__)
    return module


def test_micrograds_own_nn_py_trains_on_our_value_with_the_same_numbers():
    X, y = moons_like(16)
    runs = []
    for value_cls in (micrograd_engine.Value, Value):
        nn_module = micrograd_nn_on(value_cls)
        random.seed(1337)
        model = nn_module.MLP(2, [8, 8, 1])
        assert all(isinstance(p, value_cls) for p in model.parameters())
        losses = [demo_step(model, value_cls, X, y, k) for k in range(4)]
        runs.append((losses, [p.data for p in model.parameters()]))
    (losses_t, params_t), (losses_o, params_o) = runs
    np.testing.assert_allclose(losses_o, losses_t, rtol=1e-12)
    np.testing.assert_allclose(params_o, params_t, rtol=1e-10, atol=1e-14)
    assert losses_o[-1] < losses_o[0]


def test_our_hinge_and_l2_compute_what_micrograds_demo_writes():
    X, y = moons_like(10)
    random.seed(5)
    model = MLP(2, [4, 1])
    scores = [model(list(map(Value, row))) for row in X]
    expected = sum((1 + -yi * si).relu() for yi, si in zip(y, scores, strict=True)) * (1.0 / 10)
    assert svm_hinge_loss(scores, y).data == expected.data
    reg = 1e-4 * sum(p * p for p in model.parameters())
    assert l2_penalty(model.parameters(), alpha=1e-4).data == pytest.approx(reg.data, rel=1e-15)


# ---- Module: parameters, state, save/load --------------------------------------------------------


def test_named_parameters_follow_the_attribute_paths():
    names = [name for name, _ in MLP(2, [2, 1], rng=random.Random(0)).named_parameters()]
    assert names[:3] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b"]
    assert names[-1] == "layers.1.neurons.0.b" and len(names) == 9


def test_shared_parameters_are_listed_once():
    lin = Linear(2, 2, rng=0)
    assert len(Sequential(lin, ReLU(), lin).parameters()) == 2


def test_zero_grad_clears_scalar_and_tensor_gradients():
    net = Sequential(Linear(3, 2, rng=0))
    net(Value(np.ones((4, 3)))).sum().backward()
    assert net[0].weight.grad.any()
    net.zero_grad()
    assert not net[0].weight.grad.any() and not net[0].bias.grad.any()
    model = MLP(2, [2, 1], rng=random.Random(0))
    model([1.0, 2.0]).backward()
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


@pytest.mark.parametrize(
    "make",
    [
        lambda seed: MLP(2, [3, 1], activation="tanh", rng=random.Random(seed)),
        lambda seed: mlp([4, 5, 3], "relu", rng=seed),
    ],
)
def test_save_and_load_round_trip(tmp_path, make):
    a, b = make(1), make(2)
    path = a.save(tmp_path / "model.npz")
    assert b.load(path) is b
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert type(pa.data) is type(pb.data)
        np.testing.assert_array_equal(pa.data, pb.data)


def test_loading_keeps_tensor_arrays_in_place(tmp_path):
    a, b = mlp([3, 2], rng=1), mlp([3, 2], rng=2)
    held = b[0].weight.data
    b.load(a.save(tmp_path / "m.npz"))
    assert b[0].weight.data is held
    np.testing.assert_array_equal(held, a[0].weight.data)


def test_wrong_keys_are_named_and_nothing_changes():
    net = mlp([3, 4, 2], rng=0)
    before = net.state_dict()
    state = dict(before)
    state["9.weight"] = state.pop("2.weight")
    state["0.weight"] = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"missing keys: 2\.weight; unexpected keys: 9\.weight"):
        net.load_state_dict(state)
    for name, arr in net.state_dict().items():
        np.testing.assert_array_equal(arr, before[name])


def test_wrong_shapes_are_named():
    net = mlp([3, 4, 2], rng=0)
    state = net.state_dict()
    state["2.bias"] = np.zeros(5)
    with pytest.raises(ValueError, match=r"2\.bias has shape \(5,\), the model expects \(2,\)"):
        net.load_state_dict(state)


def test_a_pickle_file_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "executed"
    payload = pickle.dumps({"0.weight": _Exploit(str(marker))})
    path = tmp_path / "evil.npz"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match="evil.npz"):
        mlp([3, 2], rng=0).load(path)
    assert not marker.exists()


def test_an_npz_with_an_object_array_is_refused(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, **{"0.weight": np.array([_Exploit(str(tmp_path / "x"))], dtype=object)})
    with pytest.raises(ValueError, match="objects.npz"):
        mlp([3, 2], rng=0).load(path)
    assert not (tmp_path / "x").exists()


def test_corrupt_and_single_array_files_are_refused(tmp_path):
    good = mlp([3, 2], rng=0).save(tmp_path / "good.npz")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(good.read_bytes()[:100])
    with pytest.raises(ValueError, match="corrupt.npz"):
        mlp([3, 2], rng=0).load(corrupt)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(ValueError, match="single array"):
        mlp([3, 2], rng=0).load(single)


def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path):
    # A real failing write: the file-size limit makes the kernel refuse bytes past 4 KiB (EFBIG),
    # as a full disk would, halfway through the archive.
    path = tmp_path / "model.npz"
    code = textwrap.dedent(f"""
        import resource, signal
        from tinygrad_act.nn import mlp
        mlp([3, 2], rng=0).save({str(path)!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            mlp([3, 200, 2], rng=1).save({str(path)!r})
        except OSError as err:
            print("failed", err.errno)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["failed", str(errno.EFBIG)]
    loaded = mlp([3, 2], rng=5).load(path)  # the good checkpoint is whole
    for a, b in zip(loaded.parameters(), mlp([3, 2], rng=0).parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary file left


def _npz_with_header(path, name, shape, data=b"", descr="<f8"):
    """An .npz whose member `name` has a hand-written .npy header claiming `shape`."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open(name + ".npy", "w") as m:
        header = {"descr": descr, "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(m, header)
        m.write(data)


def _add_member(path, name, array):
    with zipfile.ZipFile(path, "a") as zf, zf.open(name + ".npy", "w") as m:
        np.lib.format.write_array(m, array)


def test_load_refuses_a_huge_shape_from_the_header_without_allocating(tmp_path):
    net = mlp([3, 2], rng=0)
    before = net.state_dict()
    path = tmp_path / "huge.npz"
    _npz_with_header(path, "0.weight", (10**12,))  # 8 TB claimed, no data
    _add_member(path, "0.bias", np.zeros(2))
    with pytest.raises(
        ValueError, match=r"0\.weight has shape \(1000000000000,\), the model expects \(3, 2\)"
    ):
        net.load(path)
    for name, arr in net.state_dict().items():
        np.testing.assert_array_equal(arr, before[name])


def test_load_checks_every_header_before_decompressing_anything(tmp_path):
    # 64 MiB of zeros compresses to ~64 KiB; the wrong shape must be found without inflating it.
    path = tmp_path / "bomb.npz"
    n = 8 * 2**20
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("0.weight.npy", "w", force_zip64=True) as m:
            np.lib.format.write_array_header_1_0(
                m, {"descr": "<f8", "fortran_order": False, "shape": (n,)}
            )
            chunk = bytes(2**20)
            for _ in range(8 * n // len(chunk)):
                m.write(chunk)
    _add_member(path, "0.bias", np.zeros(2))
    assert path.stat().st_size < 2**20
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"0\.weight has shape \(8388608,\)"):
            mlp([3, 2], rng=0).load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20  # far below the 64 MiB the member would inflate to


def test_load_names_a_bad_dtype_from_the_header(tmp_path):
    path = tmp_path / "strings.npz"
    np.savez(path, **{"0.weight": np.full((3, 2), "ab"), "0.bias": np.zeros(2)})
    with pytest.raises(
        ValueError, match=r"strings\.npz: it does not fit Sequential: 0\.weight holds dtype <U2"
    ):
        mlp([3, 2], rng=0).load(path)


def test_load_names_missing_and_unexpected_members_before_reading(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, **{"0.weight": np.zeros((3, 2)), "9.bias": np.zeros(2)})
    with pytest.raises(ValueError, match="missing keys: 0.bias; unexpected keys: 9.bias"):
        mlp([3, 2], rng=0).load(path)


def test_load_from_a_fifo_a_folder_or_a_file_descriptor_is_a_clear_error(tmp_path):
    net = mlp([3, 2], rng=0)
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)  # opening it to read waits for a writer forever: try it in a child process
    code = f"from tinygrad_act.nn import mlp; mlp([3, 2], rng=0).load({str(fifo)!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert (
        done.stderr.splitlines()[-1]
        == f"ValueError: Module.load: {fifo} is a FIFO (named pipe), not a file"
    )
    with pytest.raises(ValueError, match="is a folder, not a file"):
        net.load(tmp_path)
    with open(net.save(tmp_path / "m.npz"), "rb") as f:
        with pytest.raises(TypeError, match="not a file descriptor number"):
            net.load(f.fileno())
    with pytest.raises(FileNotFoundError):
        net.load(tmp_path / "missing.npz")


class _Exploit:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


# ---- tensor modules ------------------------------------------------------------------------------


def test_linear_and_activation_modules_against_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 4))
    net = Sequential(Linear(4, 6, rng=1), Tanh(), Linear(6, 3, rng=2), LeakyReLU(0.1), Linear(3, 2))
    out = net(Value(x))
    upstream = rng.normal(size=(5, 2))
    out.backward(upstream)
    t_params = [torch.tensor(p.data, requires_grad=True) for p in net.parameters()]
    tx = torch.tensor(x)
    w0, b0, w1, b1, w2, b2 = t_params
    t_out = torch.nn.functional.leaky_relu(torch.tanh(tx @ w0 + b0) @ w1 + b1, 0.1) @ w2 + b2
    t_out.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=1e-12)
    for p, tp in zip(net.parameters(), t_params, strict=True):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_activation_modules_apply_the_registry_entries():
    z = Value(np.linspace(-3, 3, 7))
    np.testing.assert_array_equal(Sigmoid()(z).data, z.sigmoid().data)
    np.testing.assert_array_equal(ReLU()(z).data, z.relu().data)
    np.testing.assert_array_equal(Activation("elu", alpha=0.5)(z).data, z.elu(alpha=0.5).data)
    assert repr(LeakyReLU(slope=0.2)) == "LeakyReLU(slope=0.2)"
    assert ReLU()(z)._op == "relu"
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        Activation("swish")
    with pytest.raises(ValueError, match="leaky_relu takes slope; got alpha"):
        Activation("leaky_relu", alpha=1.0)


def test_init_suits_the_activation_and_is_seedable():
    assert [init_for(n) for n in tinygrad_act.activations.LECTURE] == [
        "xavier",
        "xavier",
        "he",
        "he",
    ]
    he = Linear(400, 300, init="relu", rng=0).weight.data
    assert he.std() == pytest.approx(math.sqrt(2 / 400), rel=0.02) and abs(he.mean()) < 0.005
    xavier = Linear(400, 300, init="tanh", rng=0).weight.data
    bound = math.sqrt(6 / 700)
    assert xavier.max() <= bound and xavier.min() >= -bound
    assert xavier.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    np.testing.assert_array_equal(
        Linear(3, 2, rng=np.random.default_rng(5)).weight.data, Linear(3, 2, rng=5).weight.data
    )
    assert not np.array_equal(Linear(3, 2, rng=5).weight.data, Linear(3, 2, rng=6).weight.data)
    assert not Linear(3, 2, rng=5).bias.data.any()
    with pytest.raises(ValueError, match="init takes 'he', 'xavier' or an activation name"):
        Linear(3, 2, init="glorot")
    with pytest.raises(TypeError, match="rng takes a numpy Generator"):
        Linear(3, 2, rng=random.Random(0))


def test_mlp_helper_builds_linear_activation_layers_with_matching_init():
    net = mlp([8, 16, 4], "sigmoid", rng=0)
    assert len(net) == 3 and isinstance(net[1], Activation) and net[1].name == "sigmoid"
    assert np.abs(net[0].weight.data).max() <= math.sqrt(6 / 24)
    assert net(Value(np.ones((2, 8)))).shape == (2, 4)


def test_float32_linear_keeps_float32():
    lin = Linear(3, 2, rng=0, dtype=np.float32)
    out = lin(Value(np.ones((4, 3), dtype=np.float32)))
    assert out.dtype == np.float32 and lin.weight.dtype == np.float32


# ---- losses --------------------------------------------------------------------------------------


def test_losses_match_pytorch_values_and_gradients():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(1)
    z = rng.normal(size=(6, 4)) * 3
    labels = np.array([0, 3, 1, 1, 2, 0])
    target = rng.normal(size=(6, 4))
    probs = rng.uniform(size=(6, 4))
    signs = np.array([1, -1, 1, -1, 1, 1])
    scores = rng.normal(size=6) * 0.3 + 2.0 * signs * np.array([0, 0, 1, 1, 0, 1])
    cases = [
        (lambda v: cross_entropy(v, labels), lambda t: F.cross_entropy(t, torch.tensor(labels)), z),
        (lambda v: mse_loss(v, target), lambda t: F.mse_loss(t, torch.tensor(target)), z),
        (
            lambda v: binary_cross_entropy_with_logits(v, probs),
            lambda t: F.binary_cross_entropy_with_logits(t, torch.tensor(probs)),
            z,
        ),
        (
            lambda v: svm_hinge_loss(v, signs),
            lambda t: torch.relu(1 - torch.tensor(signs, dtype=t.dtype) * t).mean(),
            scores,
        ),
    ]
    for ours, theirs, x in cases:
        v = Value(x)
        loss = ours(v)
        loss.backward()
        t = torch.tensor(x, requires_grad=True)
        t_loss = theirs(t)
        t_loss.backward()
        assert loss.item() == pytest.approx(t_loss.item(), rel=1e-12)
        np.testing.assert_allclose(v.grad, t.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(
    "loss",
    [
        lambda v: cross_entropy(v, np.array([2, 0, 1])),
        lambda v: mse_loss(v, np.arange(9.0).reshape(3, 3)),
        lambda v: binary_cross_entropy_with_logits(v, np.full((3, 3), 0.25)),
    ],
)
def test_loss_gradients_agree_with_central_differences(loss):
    x = np.random.default_rng(2).normal(size=(3, 3))
    v = Value(x)
    loss(v).backward()
    numeric = central_difference(lambda arr: loss(Value(arr)).item(), x)
    np.testing.assert_allclose(v.grad, numeric, rtol=1e-6, atol=1e-8)


def test_cross_entropy_is_one_node_differentiable_twice_and_keeps_float32():
    from tinygrad_act.engine import gradients
    from tinygrad_act.gradcheck import gradcheck, gradgradcheck

    labels = np.array([2, 0, 1, 1])
    z = np.random.default_rng(3).normal(size=(4, 3))
    loss = cross_entropy(Value(z), labels)
    assert loss._op == "cross_entropy" and loss._prev[0].shape == (4, 3)  # no log_softmax node
    assert gradcheck(lambda v: cross_entropy(v, labels), Value(z))
    # The recorded gradient (create_graph) is the plain one, and differentiates consistently.
    v = Value(z)
    (recorded,) = gradients(cross_entropy(v, labels), [v], create_graph=True)
    (plain,) = gradients(cross_entropy(v, labels), [v])
    np.testing.assert_allclose(recorded.data, plain, rtol=1e-12, atol=1e-15)
    assert gradgradcheck(lambda v: cross_entropy(v, labels), Value(z))
    v32 = Value(z.astype(np.float32))
    loss32 = cross_entropy(v32, labels)
    loss32.backward()
    assert loss32.dtype == np.float32 and v32.grad.dtype == np.float32
    ref = Value(z)
    cross_entropy(ref, labels).backward()
    np.testing.assert_allclose(v32.grad, ref.grad, rtol=1e-5, atol=1e-7)


def test_cross_entropy_matches_its_definition_for_every_label_dtype_in_float32_and_float64():
    rng = np.random.default_rng(5)
    for dtype in (np.float32, np.float64):
        z = rng.normal(size=(5, 4)).astype(dtype)
        for labels in (np.array([3, 0, 1, 1, 2]), np.array([3, 0, 1, 1, 2], dtype=np.uint8)):
            v = Value(z)
            loss = cross_entropy(v, labels)
            loss.backward()
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            onehot = np.eye(4, dtype=dtype)[labels]
            assert loss.dtype == dtype and v.grad.dtype == dtype
            assert loss.item() == pytest.approx(-(logp * onehot).sum() / 5, rel=1e-6)
            np.testing.assert_allclose(v.grad, (np.exp(logp) - onehot) / 5, rtol=1e-5, atol=1e-7)
            w = Value(z)
            (recorded,) = tinygrad_act.gradients(cross_entropy(w, labels), [w], create_graph=True)
            np.testing.assert_allclose(recorded.data, v.grad, rtol=1e-6)


def test_losses_are_stable_for_huge_logits():
    z = Value(np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 5.0]]))
    ce = cross_entropy(z, [0, 0])
    assert ce.item() == pytest.approx(1000.0)
    ce.backward()
    np.testing.assert_allclose(z.grad, [[0, 0, 0], [-0.5, 0.5, 0]], atol=1e-12)
    logits = Value(np.array([1000.0, -1000.0, 1000.0]))
    bce = binary_cross_entropy_with_logits(logits, [1.0, 0.0, 0.0])
    assert bce.item() == pytest.approx(1000.0 / 3)
    bce.backward()
    np.testing.assert_allclose(logits.grad, [0, 0, 1 / 3], atol=1e-12)


def test_scalar_losses_work_on_lists_of_values():
    preds = [Value(0.5), Value(-1.0)]
    loss = mse_loss(preds, [1.0, 1.0])
    loss.backward()
    assert loss.data == pytest.approx((0.25 + 4.0) / 2)
    assert preds[0].grad == pytest.approx(-0.5) and preds[1].grad == pytest.approx(-2.0)
    z = Value(0.3)
    bce = binary_cross_entropy_with_logits([z], [1.0])
    bce.backward()
    assert bce.data == pytest.approx(math.log1p(math.exp(-0.3)))
    assert z.grad == pytest.approx(1 / (1 + math.exp(-0.3)) - 1)


def test_bad_loss_inputs_name_what_was_given():
    with pytest.raises(TypeError, match="labels must be integer class indices, got dtype float64"):
        cross_entropy(Value(np.zeros((2, 3))), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.2, got 0\.\.3"):
        cross_entropy(Value(np.zeros((2, 3))), [0, 3])
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.2, got -1\.\.2"):
        cross_entropy(Value(np.zeros((2, 3))), [-1, 2])  # numpy would read -1 as the last class
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.2, got 0\.\.3"):
        cross_entropy(Value(np.zeros((2, 3))), np.array([3, 0], dtype=np.uint8))
    with pytest.raises(ValueError, match=r"labels must be -1 or \+1, got \[0, 1\]"):
        svm_hinge_loss(Value(np.zeros(2)), [0, 1])
    with pytest.raises(ValueError, match=r"shape \(3, 1\) but targets have shape \(3,\)"):
        mse_loss(Value(np.zeros((3, 1))), np.zeros(3))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\]"):
        binary_cross_entropy_with_logits(Value(np.zeros(2)), [0.0, 2.0])


# ---- optimizers ----------------------------------------------------------------------------------


def _run_ours(make_opt, x0, steps=5):
    params = [Value(x0.copy()), Value(float(x0[0]))]
    opt = make_opt(params)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((params[0] - 1.0) ** 2 * np.arange(1.0, 4.0)).sum() + params[1] ** 4
        loss.backward()
        opt.step()
    return params


def _run_torch(torch, make_opt, x0, steps=5):
    params = [torch.tensor(x0.copy(), requires_grad=True), torch.tensor(x0[0], requires_grad=True)]
    opt = make_opt(params)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((params[0] - 1.0) ** 2 * torch.arange(1.0, 4.0, dtype=torch.float64)).sum()
        loss = loss + params[1] ** 4
        loss.backward()
        opt.step()
    return params


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda p: SGD(p, lr=0.05), lambda t, p: t.optim.SGD(p, lr=0.05)),
        (
            lambda p: SGD(p, lr=0.05, momentum=0.9, weight_decay=0.1),
            lambda t, p: t.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.1),
        ),
        (lambda p: Adam(p, lr=0.1), lambda t, p: t.optim.Adam(p, lr=0.1)),
        (
            lambda p: Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05),
            lambda t, p: t.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05),
        ),
    ],
)
def test_optimizers_match_pytorch_on_scalars_and_tensors(ours, theirs):
    torch = pytest.importorskip("torch")
    x0 = np.array([0.3, -1.2, 2.5])
    tensor, scalar = _run_ours(ours, x0)
    t_tensor, t_scalar = _run_torch(torch, lambda p: theirs(torch, p), x0)
    assert type(scalar.data) is float
    np.testing.assert_allclose(tensor.data, t_tensor.detach().numpy(), rtol=1e-12)
    assert scalar.data == pytest.approx(t_scalar.item(), rel=1e-12)


def test_optimizer_updates_tensors_in_place_and_skips_parameters_without_gradient():
    used, unused = Value(np.ones(3)), Value(np.ones(2))
    held = used.data
    opt = Adam([used, unused], lr=0.1)
    (used * used).sum().backward()
    opt.step()
    assert used.data is held and (held < 1).all()
    np.testing.assert_array_equal(unused.data, [1.0, 1.0])
    opt.zero_grad()
    assert not used.grad.any()


def test_sgd_lr_can_be_scheduled_between_steps():
    w = Value(1.0)
    opt = SGD([w], lr=0.5)
    w.grad = 1.0
    opt.step()
    opt.lr = 0.25
    opt.step()
    assert w.data == pytest.approx(0.25)


def test_optimizer_takes_a_module_and_rejects_bad_settings():
    net = mlp([2, 2], rng=0)
    assert len(SGD(net, lr=0.1).params) == 2
    with pytest.raises(ValueError, match="lr must be a number in"):
        SGD(net.parameters(), lr=-1)
    with pytest.raises(ValueError, match="momentum must be a number in"):
        SGD(net.parameters(), lr=0.1, momentum=1.5)
    with pytest.raises(ValueError, match="betas must be a pair"):
        Adam(net.parameters(), betas=0.9)
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam([])
    with pytest.raises(TypeError, match="takes Values, got ndarray"):
        SGD([np.zeros(2)], lr=0.1)


def test_a_module_subclass_finds_parameters_without_declaring_them():
    class Affine(Module):
        def __init__(self):
            self.scale = Value(2.0)
            self.inner = [Linear(2, 2, rng=0)]

    assert [n for n, _ in Affine().named_parameters()] == [
        "scale",
        "inner.0.weight",
        "inner.0.bias",
    ]


# ---- issue 13: bad sizes, dtypes, loss inputs and optimizer settings are refused by name -----------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Linear(0, 3), "Linear: nin must be at least 1, got 0"),
        (lambda: Linear(-1, 3), "Linear: nin must be at least 1, got -1"),
        (lambda: Linear(3, 0), "Linear: nout must be at least 1, got 0"),
        (lambda: MLP(-1, [1]), "MLP: nin must be at least 1, got -1"),
        (lambda: MLP(2, [0]), r"MLP: nouts\[0\] must be at least 1, got 0"),
        (lambda: MLP(2, [3, -2]), r"MLP: nouts\[1\] must be at least 1, got -2"),
        (lambda: MLP(2, []), "MLP: nouts is empty"),
        (lambda: Layer(2, 0), "Layer: nout must be at least 1, got 0"),
        (lambda: Neuron(0), "Neuron: nin must be at least 1, got 0"),
        (lambda: mlp([3, 0, 2]), r"mlp: sizes\[1\] must be at least 1, got 0"),
        (lambda: mlp([3]), "mlp: sizes needs an input and an output size"),
    ],
)
def test_a_layer_size_below_one_is_a_value_error_naming_it(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_size_that_is_not_a_whole_number_is_a_type_error_and_numpy_ints_work():
    with pytest.raises(TypeError, match="Linear: nin must be a whole number, got 2.5"):
        Linear(2.5, 3)
    with pytest.raises(TypeError, match="MLP: nin must be a whole number, got True"):
        MLP(True, [1])
    assert Linear(np.int64(2), np.int32(3), rng=0).weight.shape == (2, 3)


@pytest.mark.parametrize("dtype", [np.int32, np.float16, np.complex128, "junk", object])
def test_linear_refuses_a_dtype_the_engine_does_not_compute_in(dtype):
    with pytest.raises(ValueError, match="Linear: dtype must be float32 or float64, got"):
        Linear(2, 3, dtype=dtype)


def test_linear_takes_float32_and_float64_by_any_name():
    assert Linear(2, 3, dtype="float32", rng=0).weight.dtype == np.float32
    assert Linear(2, 3, dtype=np.dtype("f8"), rng=0).bias.dtype == np.float64


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: mse_loss(np.zeros(3), np.zeros(3)), TypeError, "mse_loss takes predictions as a Value or a list of Values.*got ndarray"),
        (lambda: mse_loss([1.0, 2.0], [0, 0]), TypeError, "got a list holding float"),
        (lambda: binary_cross_entropy_with_logits([0.5], [1.0]), TypeError, "takes logits as a Value"),
        (lambda: svm_hinge_loss(np.ones(2), [1, -1]), TypeError, "svm_hinge_loss takes scores as a Value"),
        (lambda: cross_entropy(np.zeros((2, 3)), [0, 1]), TypeError, r"cross_entropy takes logits as a tensor Value of shape \(N, C\), got ndarray"),
        (lambda: cross_entropy([Value(1.0)], [0]), TypeError, "got list"),
        (lambda: mse_loss(Value(np.zeros(2)), None), TypeError, "mse_loss targets must be numbers, got NoneType"),
        (lambda: mse_loss(Value(np.zeros(2)), ["a", "b"]), TypeError, "must be numbers, got dtype <U1"),
    ],
)  # fmt: skip
def test_losses_given_something_else_say_what_they_take(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: mse_loss(Value(np.zeros(2)), [np.nan, 0.0]),
        lambda: mse_loss([Value(1.0), Value(2.0)], [0.0, np.nan]),
        lambda: mse_loss(Value(np.zeros(2)), Value(np.array([0.0, np.nan]))),
        lambda: binary_cross_entropy_with_logits(Value(np.zeros(2)), [np.nan, 1.0]),
    ],
)
def test_nan_targets_are_refused(call):
    with pytest.raises(ValueError, match=r"targets contain NaN \(first at index \[\d\]\)"):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: mse_loss(Value(np.zeros(0)), np.zeros(0)),
        lambda: mse_loss([], []),
        lambda: binary_cross_entropy_with_logits(Value(np.zeros(0)), np.zeros(0)),
        lambda: svm_hinge_loss([], []),
        lambda: svm_hinge_loss(Value(np.zeros(0)), np.zeros(0)),
        lambda: cross_entropy(Value(np.zeros((0, 3))), np.zeros(0, dtype=int)),
    ],
)
def test_a_loss_on_an_empty_batch_is_a_value_error(call):
    # torch gives nan with a warning (mse, bce) or nan silently (cross_entropy): a wasted step.
    with pytest.raises(ValueError, match="the batch is empty"):
        call()


@pytest.mark.parametrize("eps", [0, 0.0, -1e-8])
def test_adam_eps_must_be_positive(eps):
    with pytest.raises(ValueError, match=r"eps must be a number in \(0, inf\), got"):
        Adam([Value(1.0)], eps=eps)


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1), lambda ps: Adam(ps)])
def test_the_same_parameter_twice_is_refused(make):
    w, b = Value(1.0), Value(np.zeros(2))
    with pytest.raises(ValueError, match=r"the same parameter twice \(at positions 0 and 2\)"):
        make([w, b, w])


@pytest.mark.parametrize("lr", [np.float32(0.1), np.float64(0.1), np.int64(1), 0.1])
def test_numpy_learning_rates_are_accepted_as_in_pytorch(lr):
    torch = pytest.importorskip("torch")
    ours = _run_ours(lambda p: SGD(p, lr=lr, momentum=np.float32(0.5)), np.array([0.3, -1.2, 2.5]))
    theirs = _run_torch(
        torch,
        lambda p: torch.optim.SGD(p, lr=float(lr), momentum=float(np.float32(0.5))),
        np.array([0.3, -1.2, 2.5]),
    )
    np.testing.assert_allclose(ours[0].data, theirs[0].detach().numpy(), rtol=1e-12)
    assert ours[1].data == pytest.approx(theirs[1].item(), rel=1e-12)


def test_frozen_values_are_not_parameters_but_are_saved_and_loaded(tmp_path):
    class Scaled(Module):
        def __init__(self, scale):
            self.scale = Value(np.array([scale]), requires_grad=False)  # data, like a buffer
            self.inner = Linear(2, 1, rng=0)

        def __call__(self, x):
            return self.inner(x) * self.scale

    a, b = Scaled(2.0), Scaled(5.0)
    assert [n for n, _ in a.named_parameters()] == ["inner.weight", "inner.bias"]
    assert all(p.requires_grad for p in a.parameters())
    assert len(SGD(a, lr=0.1).params) == 2
    b.load(a.save(tmp_path / "scaled.npz"))
    assert b.scale.data.tolist() == [2.0]
    assert sorted(a.state_dict()) == ["inner.bias", "inner.weight", "scale"]


# ---- forward hooks -------------------------------------------------------------------------------


def _every_module_kind():
    x_batch = Value(np.ones((2, 3)))
    scalars = [Value(1.0), Value(-2.0), Value(0.5)]
    return [
        (Neuron(3, rng=random.Random(0)), scalars),
        (Layer(3, 2, rng=random.Random(0)), scalars),
        (MLP(3, [2, 1], rng=random.Random(0)), scalars),
        (Linear(3, 2, rng=0), x_batch),
        (Activation("tanh"), x_batch),
        (Sequential(Linear(3, 2, rng=0), ReLU()), x_batch),
    ]


@pytest.mark.parametrize("module, x", _every_module_kind(), ids=lambda m: type(m).__name__)
def test_every_module_runs_its_forward_hooks_in_order_and_a_result_replaces_the_output(module, x):
    plain = module(x)
    calls = []
    h1 = module.register_forward_hook(lambda m, inp, out: calls.append(("first", m, inp, out)))
    h2 = module.register_forward_hook(lambda m, inp, out: calls.append(("second", out)) or "new")
    assert module(x) == "new"
    (tag, m, inp, out), (tag2, out2) = calls
    assert (tag, tag2) == ("first", "second") and m is module and inp is x and out2 is out
    first = out[0] if isinstance(out, list) else out
    want = plain[0] if isinstance(plain, list) else plain
    assert np.array_equal(first.data, want.data)
    h2.remove()
    h2.remove()  # a second remove does nothing
    assert module(x) is not None and len(calls) == 3
    h1.remove()
    assert "_forward_hooks" not in vars(module)  # as it was before the first hook
    module(x)
    assert len(calls) == 3


def test_a_forward_hook_must_be_callable():
    with pytest.raises(TypeError, match="takes a callable, got int"):
        Linear(2, 2, rng=0).register_forward_hook(3)


def test_forward_hooks_do_not_change_parameter_names_or_state():
    model = MLP(2, [3, 1], rng=random.Random(0))
    names = [name for name, _ in model.named_parameters()]
    handle = model.layers[0].register_forward_hook(lambda m, x, out: None)
    assert [name for name, _ in model.named_parameters()] == names
    assert list(model.state_dict()) == names
    handle.remove()
