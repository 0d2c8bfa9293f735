"""numpy's protocols and PyTorch's spellings on Values.

A numpy ufunc or function called with a Value gives a Value with numpy's numbers and a graph whose
gradients are the method calls' (the methods are checked against PyTorch in test_tensor_ops and
test_torch_oracle); numpy names with no rule, and out=, are clear TypeErrors. PyTorch's spellings
mean what they mean in PyTorch, numpy's what they mean in numpy.
"""

import numpy as np
import pytest

import tinygrad_act
from tinygrad_act import Value
from tinygrad_act.numpy_api import FUNCTIONS, UFUNCS

torch = pytest.importorskip("torch")

A = np.array([[0.5, -1.25, 2.0], [1.5, 0.25, -0.75]])
B = np.array([[0.3, 1.1, -0.4], [-2.0, 0.6, 0.9]])
P = np.abs(A) + 0.5  # positive, for sqrt, log and powers
MASK = A > 0

# (numpy's call, the same computation as method calls, the Values' data)
UFUNC_CASES = [
    ("add", lambda x, y: np.add(x, y), lambda x, y: x + y, (A, B)),
    ("subtract", lambda x, y: np.subtract(x, y), lambda x, y: x - y, (A, B)),
    ("multiply", lambda x, y: np.multiply(x, y), lambda x, y: x * y, (A, B)),
    ("divide", lambda x, y: np.divide(x, y), lambda x, y: x / y, (A, P)),
    ("true_divide", lambda x, y: np.true_divide(x, y), lambda x, y: x / y, (A, P)),
    ("negative", lambda x: np.negative(x), lambda x: -x, (A,)),
    ("power", lambda x: np.power(x, 3), lambda x: x**3, (P,)),
    ("power of values", lambda x, y: np.power(x, y), lambda x, y: x**y, (P, B)),
    ("square", lambda x: np.square(x), lambda x: x * x, (A,)),
    ("sqrt", lambda x: np.sqrt(x), lambda x: x**0.5, (P,)),
    ("exp", lambda x: np.exp(x), lambda x: x.exp(), (A,)),
    ("log", lambda x: np.log(x), lambda x: x.log(), (P,)),
    ("tanh", lambda x: np.tanh(x), lambda x: x.tanh(), (A,)),
    ("absolute", lambda x: np.absolute(x), lambda x: x.abs(), (A,)),
    ("abs", lambda x: np.abs(x), lambda x: x.abs(), (A,)),
    ("maximum", lambda x, y: np.maximum(x, y), lambda x, y: x.maximum(y), (A, B)),
    ("minimum", lambda x, y: np.minimum(x, y), lambda x, y: x.minimum(y), (A, B)),
    ("matmul", lambda x, y: np.matmul(x, y), lambda x, y: x @ y, (A, B.T)),
]
FUNCTION_CASES = [
    ("dot", lambda x, y: np.dot(x, y), lambda x, y: x @ y, (A, B.T)),
    ("dot vectors", lambda x, y: np.dot(x[0], y[1]), lambda x, y: (x[0] * y[1]).sum(), (A, B)),
    ("dot scalar", lambda x: np.dot(x, 2.0), lambda x: x * 2.0, (A,)),
    (
        "outer",
        lambda x, y: np.outer(x[0], y[1]),
        lambda x, y: x[0].reshape(3, 1) * y[1].reshape(1, 3),
        (A, B),
    ),
    (
        "sum",
        lambda x: np.sum(x, axis=1, keepdims=True),
        lambda x: x.sum(axis=1, keepdims=True),
        (A,),
    ),
    ("mean", lambda x: np.mean(x, axis=0), lambda x: x.sum(axis=0) / 2, (A,)),
    (
        "var",
        lambda x: np.var(x, axis=1),
        lambda x: ((x - x.mean(axis=1, keepdims=True)) ** 2).mean(axis=1),
        (A,),
    ),
    ("var ddof", lambda x: np.var(x, ddof=1), lambda x: ((x - x.mean()) ** 2).sum() / 5, (A,)),
    (
        "std",
        lambda x: np.std(x, axis=0, ddof=1),
        lambda x: (((x - x.mean(axis=0)) ** 2).sum(axis=0) / 1) ** 0.5,
        (A,),
    ),
    ("max", lambda x: np.max(x, axis=1), lambda x: x.max(axis=1), (A,)),
    ("amax", lambda x: np.amax(x), lambda x: x.max(), (A,)),
    (
        "min",
        lambda x: np.min(x, axis=0, keepdims=True),
        lambda x: -((-x).max(axis=0, keepdims=True)),
        (A,),
    ),
    ("amin", lambda x: np.amin(x), lambda x: -((-x).max()), (A,)),
    ("transpose", lambda x: np.transpose(x), lambda x: x.T, (A,)),
    ("transpose axes", lambda x: np.transpose(x, (1, 0)), lambda x: x.T, (A,)),
    ("reshape", lambda x: np.reshape(x, (3, 2)), lambda x: x.reshape(3, 2), (A,)),
    ("squeeze", lambda x: np.squeeze(x[:1]), lambda x: x[0], (A,)),
    ("expand_dims", lambda x: np.expand_dims(x, 1), lambda x: x.reshape(2, 1, 3), (A,)),
    (
        "concatenate",
        lambda x, y: np.concatenate([x, y], axis=1),
        lambda x, y: tinygrad_act.cat([x, y], dim=1),
        (A, B),
    ),
    (
        "concatenate flat",
        lambda x, y: np.concatenate([x, y], axis=None),
        lambda x, y: tinygrad_act.cat([x.reshape(-1), y.reshape(-1)]),
        (A, B),
    ),
    (
        "stack",
        lambda x, y: np.stack([x, y]),
        lambda x, y: tinygrad_act.cat([x.reshape(1, 2, 3), y.reshape(1, 2, 3)]),
        (A, B),
    ),
    (
        "where",
        lambda x, y: np.where(MASK, x, y),
        lambda x, y: x * MASK.astype(float) + y * (~MASK).astype(float),
        (A, B),
    ),
    ("clip", lambda x: np.clip(x, -0.5, 1.0), lambda x: x.maximum(-0.5).minimum(1.0), (A,)),
    (
        "clip keywords",
        lambda x: np.clip(x, min=-0.5, max=1.0),
        lambda x: x.maximum(-0.5).minimum(1.0),
        (A,),
    ),
]


def _numpy_on_data(fn, arrays):
    """numpy's own answer on the plain arrays: the numbers the Value must hold."""
    return fn(*arrays)


@pytest.mark.parametrize("case", UFUNC_CASES + FUNCTION_CASES, ids=lambda c: c[0])
def test_a_numpy_call_on_values_gives_numpys_numbers_and_the_methods_gradients(case, rng):
    _, with_numpy, with_methods, arrays = case
    vs = [Value(a) for a in arrays]
    out = with_numpy(*vs)
    assert isinstance(out, Value) and out.requires_grad
    np.testing.assert_allclose(out.data, _numpy_on_data(with_numpy, arrays), rtol=1e-12)
    upstream = rng.uniform(0.5, 2.0, out.shape)
    (out * upstream).sum().backward()
    ws = [Value(a) for a in arrays]
    (with_methods(*ws) * upstream).sum().backward()
    for v, w in zip(vs, ws, strict=True):
        np.testing.assert_allclose(v.grad, w.grad, rtol=1e-10, atol=1e-12)


def test_every_ufunc_and_function_the_issue_names_has_a_row():
    ufuncs = "add subtract multiply divide true_divide negative power square sqrt exp log tanh absolute maximum minimum"  # fmt: skip
    functions = "dot matmul sum mean var std max min amax amin transpose reshape squeeze expand_dims concatenate stack where clip outer"  # fmt: skip
    assert all(getattr(np, name) in UFUNCS for name in ufuncs.split())
    assert all(getattr(np, name) in FUNCTIONS or getattr(np, name) in UFUNCS for name in functions.split())  # fmt: skip


def test_plain_arrays_among_the_arguments_are_constants():
    W = Value(A)
    X = B.T.copy()
    out = np.dot(W, X)
    const = out._prev[1]
    assert not const.requires_grad and const.data.tolist() == X.tolist()
    np.tanh(out).sum().backward()
    assert X.tolist() == B.T.tolist()  # the array is untouched
    for left_constant in (np.maximum(0, W), np.where(MASK, 1.0, W), np.concatenate([B, W])):
        assert [p.requires_grad for p in left_constant._prev] == [False, True]


def test_a_float32_value_meeting_a_float64_array_stays_float32():
    v = Value(A.astype(np.float32))
    for out in (np.maximum(B, v), np.where(MASK, B, v), np.concatenate([B, v]), np.dot(B.T, v)):
        assert out.dtype == np.float32


def test_numpy_on_the_left_and_reflected_operators_keep_working():
    v = Value(A)
    ones = np.ones(3)
    outs = [ones + v, ones - v, ones * v, ones / v, ones**v, np.float64(2.0) * v, ones @ v.T]
    assert all(isinstance(o, Value) for o in outs)
    np.testing.assert_allclose(outs[1].data, 1 - A)
    np.testing.assert_allclose(outs[3].data, 1 / A)
    assert (np.zeros(3) < v).tolist() == (A > 0).tolist()  # comparisons: bools, as v > 0 gives
    assert np.greater(v, 0).tolist() == (A > 0).tolist()
    s = Value(2.0)
    assert isinstance(np.float64(3.0) * s, Value) and type((np.float64(3.0) * s).data) is float


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda v: np.sort(v), "np.sort has no rule for a Value"),
        (lambda v: np.cumsum(v), "np.cumsum has no rule for a Value"),
        (lambda v: np.linalg.norm(v), "np.linalg.norm has no rule for a Value"),
        (lambda v: np.sin(v), "np.sin has no rule for a Value"),
        (lambda v: np.add.reduce(v), r"np.add.reduce has no rule for a Value"),
        (lambda v: np.equal(v, v), "np.equal has no rule for a Value"),
        (lambda v: np.sum(v, dtype=np.float32), r"np.sum on a Value takes no dtype="),
        (
            lambda v: np.tanh(v, casting="unsafe"),
            "np.tanh on a Value takes no keywords; got casting",
        ),
        (
            lambda v: np.dot(v.reshape(1, 2, 3), v.T),
            "np.dot of arrays with more than 2 dimensions has no rule; use np.matmul",
        ),
        (
            lambda v: np.where(v, 1.0, 0.0),
            "np.where: the condition is a Value; give the comparison",
        ),
    ],
)
def test_a_numpy_name_with_no_rule_is_a_type_error_that_names_it_and_says_what_to_use(call, named):
    v = Value(A)
    with pytest.raises(TypeError, match=named) as err:
        call(v)
    message = str(err.value)
    assert "object" not in message
    if "has no rule" in message and "np.dot" not in message:
        assert "with a rule: np.a" in message and "call it on the data (v.data)" in message


def test_out_is_refused_and_the_array_is_unchanged():
    v = Value(A)
    out = np.zeros((2, 3))
    for call in (
        lambda: np.add(v, 1.0, out=out),
        lambda: np.tanh(v, out=out),
        lambda: np.sum(v, axis=0, out=out[0]),
    ):
        with pytest.raises(TypeError, match="with out=: a Value cannot be written into an array"):
            call()
    with pytest.raises(TypeError, match="write the result to a name instead, as in a = a . v"):
        out += v
    assert not out.any()


def test_a_value_is_never_turned_into_an_object_array():
    v = Value(A)
    for call in (lambda: np.asarray(v), lambda: np.array([v, v]), lambda: np.asarray(Value(2.0))):
        with pytest.raises(TypeError, match="cannot become a plain numpy array: the copy would lose its graph"):  # fmt: skip
            call()
    with pytest.raises(TypeError, match="cannot become a plain numpy array"):
        Value([v, v])  # a list of Values is not data either


def test_shape_ndim_size_and_argmax_are_plain_facts():
    v = Value(A)
    assert np.shape(v) == (2, 3) and np.ndim(v) == 2 and np.size(v) == 6 and np.size(v, 1) == 3
    assert np.argmax(v, axis=1).tolist() == [2, 0] and np.argmin(v).tolist() == 1
    assert isinstance(v.argmax(dim=0, keepdim=True), np.ndarray)
    assert (
        v.argmax(dim=0, keepdim=True).tolist() == torch.tensor(A).argmax(0, keepdim=True).tolist()
    )


# ---- PyTorch's spellings: the spelling decides the meaning -------------------------------------------


def _both(x):
    return Value(x), torch.tensor(x, dtype=torch.float64, requires_grad=True)


def test_dim_and_keepdim_are_axis_and_keepdims():
    v = Value(A)
    assert v.sum(0, keepdim=True).data.tolist() == v.sum(axis=0, keepdims=True).data.tolist()
    assert v.mean(dim=1).data.tolist() == v.mean(axis=1).data.tolist()
    assert v.sum(dim=(0, 1)).data == A.sum()


@pytest.mark.parametrize(
    ("ours", "theirs", "numpys"),
    [
        (
            lambda v: v.var(0, keepdim=True, unbiased=True),
            lambda t: t.var(0, keepdim=True, unbiased=True),
            None,
        ),
        (lambda v: v.var(dim=1), lambda t: t.var(dim=1), None),
        (lambda v: v.var(), lambda t: t.var(correction=0), lambda a: a.var()),  # numpy's: n
        (lambda v: v.var(0), lambda t: t.var(0, correction=0), lambda a: a.var(0)),
        (lambda v: v.var(ddof=1), lambda t: t.var(), lambda a: a.var(ddof=1)),
        (lambda v: v.std(1, unbiased=False), lambda t: t.std(1, unbiased=False), None),
        (lambda v: v.std(correction=0), lambda t: t.std(correction=0), None),
        (lambda v: v.std(axis=0), lambda t: t.std(0, correction=0), lambda a: a.std(axis=0)),
        (lambda v: v.std(dim=0), lambda t: t.std(0), None),
    ],
)
def test_var_and_std_follow_torch_when_spelled_torchs_way_and_numpy_when_spelled_numpys(ours, theirs, numpys):  # fmt: skip
    v, t = _both(A)
    out, tout = ours(v), theirs(t)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12)
    if numpys is not None:
        np.testing.assert_allclose(out.data, numpys(A), rtol=1e-12)
    (out * 2.5).sum().backward()
    (tout * 2.5).sum().backward()
    np.testing.assert_allclose(v.grad, t.grad.numpy(), rtol=1e-10)


def test_max_and_min_with_torchs_keywords_return_values_and_indices_as_torch():
    x = np.array([[0.5, 2.0, -1.0], [3.0, 0.25, 3.5]])
    for name, kwargs in (("max", dict(keepdim=True)), ("min", dict(dim=0)), ("max", dict(dim=1, keepdim=False))):  # fmt: skip
        v, t = _both(x)
        args = (1,) if "dim" not in kwargs else ()
        got, want = getattr(v, name)(*args, **kwargs), getattr(t, name)(*args, **kwargs)
        values, indices = got  # a named tuple, as torch.return_types
        assert got.values is values and got.indices is indices and isinstance(values, Value)
        assert values.data.tolist() == want.values.tolist()
        assert indices.tolist() == want.indices.tolist()
        (values * 3.0).sum().backward()
        (want.values * 3.0).sum().backward()
        assert v.grad.tolist() == t.grad.tolist()


def test_numpys_spelling_of_max_keeps_numpys_meaning():
    v = Value(A)
    for out in (v.max(1), v.max(axis=1), v.max(axis=1, keepdims=True), v.min(0), v.max()):
        assert isinstance(out, Value)
    assert v.max(1).data.tolist() == A.max(1).tolist()


def test_sqrt_abs_exp_log_tanh_are_methods_and_view_takes_minus_one():
    v, t = _both(P)
    for name in ("sqrt", "abs", "exp", "log", "tanh"):
        np.testing.assert_allclose(getattr(v, name)().data, getattr(t, name)().detach().numpy(), rtol=1e-12)  # fmt: skip
    emb = Value(np.arange(24.0).reshape(4, 3, 2))
    assert emb.view(emb.shape[0], -1).shape == (4, 6) and emb.view(-1).shape == (24,)


def test_cat_and_stack_are_exported_as_in_torch():
    assert tinygrad_act.cat is tinygrad_act.numpy_api.cat and "stack" in tinygrad_act.__all__
    x, y = Value(A), Value(B)
    assert tinygrad_act.cat([x, y], dim=1).shape == tuple(torch.cat([torch.tensor(A), torch.tensor(B)], dim=1).shape)  # fmt: skip
    assert tinygrad_act.stack((x, y), dim=-1).shape == (2, 3, 2)


def test_softmax_and_log_softmax_take_torchs_dim_and_expand_dims_numpys_axis():
    v, t = _both(A)
    np.testing.assert_allclose(v.softmax(dim=0).data, t.softmax(dim=0).detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(v.log_softmax(dim=0).data, t.log_softmax(0).detach().numpy(), rtol=1e-12)  # fmt: skip
    assert v.expand_dims(axis=1).shape == np.expand_dims(A, axis=1).shape == (2, 1, 3)
