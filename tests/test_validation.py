"""jaxml._validation: the same mistake gets the same exception, naming the argument."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml import _validation as v


@pytest.mark.parametrize(
    "value, exc, match",
    [
        (2.0, TypeError, r"num_steps must be an int >= 1; got 2.0 \(float\)"),
        ("3", TypeError, "num_steps must be an int"),
        (True, TypeError, "num_steps must be an int"),
        (None, TypeError, "num_steps must be an int"),
        (0, ValueError, "num_steps must be an int >= 1; got 0"),
        (-5, ValueError, "got -5"),
    ],
)
def test_check_int_refuses(value, exc, match):
    with pytest.raises(exc, match=match):
        v.check_int(value, "num_steps", minimum=1)


def test_check_int_accepts_integers_of_every_kind():
    assert v.check_int(3, "n", minimum=1) == 3
    assert v.check_int(np.int64(4), "n", minimum=1, maximum=4) == 4
    assert v.check_int(jnp.asarray(5), "n") == 5
    with pytest.raises(ValueError, match="n must be an int >= 1 and <= 4; got 5"):
        v.check_int(5, "n", minimum=1, maximum=4)


@pytest.mark.parametrize(
    "value, kwargs, exc, match",
    [
        ("0.1", {}, TypeError, r"lr must be a real number; got '0.1' \(str\)"),
        (None, {}, TypeError, "lr must be a real number"),
        (1 + 2j, {}, TypeError, "lr must be a real number"),
        (True, {}, TypeError, "lr must be a real number"),
        (jnp.ones(2), {}, ValueError, r"lr must be a scalar; got array of shape \(2,\)"),
        (float("nan"), {}, ValueError, "lr must be finite; got nan"),
        (float("inf"), {"minimum": 0.0}, ValueError, "lr must be finite and >= 0"),
        (0.0, {"minimum": 0.0, "min_open": True}, ValueError, "lr must be > 0; got 0"),
        (jnp.asarray(-1.0), {"minimum": 0.0}, ValueError, "lr must be >= 0; got -1"),
        (1.0, {"maximum": 1.0, "max_open": True}, ValueError, "lr must be < 1; got 1"),
    ],
)
def test_check_scalar_refuses(value, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        v.check_scalar(value, "lr", **kwargs)


def test_check_scalar_lets_tracers_through_and_keeps_the_value():
    assert v.check_positive(0.5, "lr") == 0.5

    @jax.jit
    def f(lr):
        v.check_positive(lr, "lr")  # a tracer: the value check is skipped, no error
        return lr * 2

    assert float(f(-1.0)) == -2.0
    with pytest.raises(ValueError, match="lr must be a scalar"):
        jax.jit(lambda lr: v.check_positive(lr, "lr"))(jnp.ones(3))


@pytest.mark.parametrize(
    "x, kwargs, exc, match",
    [
        ("abc", {}, TypeError, "x must be an array; got 'abc'"),
        (None, {}, TypeError, "x must be an array"),
        ({"a": 1}, {}, TypeError, "x must be an array"),
        ([[1, 2], [3]], {}, TypeError, "x must be an array"),
        (np.array(["a"]), {}, TypeError, "x must be a numeric array"),
        (jnp.ones(3, jnp.int32), {"dtype": "float"}, TypeError, "x must have a float dtype"),
        (jnp.ones(3), {"ndim": 2}, ValueError, r"x must be a 2-D array; got shape \(3,\)"),
        (jnp.ones((2, 4)), {"shape": (None, 3)}, ValueError, r"x must have shape \[\*, 3\]"),
        (jnp.ones((2,)), {"shape": (None, 3)}, ValueError, r"x must be a 2-D array \[\*, 3\]"),
        (jnp.ones(3), {"min_ndim": 2}, ValueError, "at least 2 dimension"),
        (jnp.ones((0, 3)), {"min_size": 1}, ValueError, "at least 1 element"),
        (
            jnp.array([1.0, jnp.nan, 2.0]),
            {},
            ValueError,
            r"x must be finite; got 1 NaN/inf value\(s\) of 3 \(first at index 1\)",
        ),
        (
            jnp.array([[0.5, -0.1]]),
            {"minimum": 0.0},
            ValueError,
            r"x must have every element >= 0; got 1 outside .* at index \(0, 1\)",
        ),
        (jnp.array([3, 10]), {"maximum": 9}, ValueError, "every element <= 9"),
    ],
)
def test_check_array_refuses(x, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        v.check_array(x, "x", **kwargs)


def test_check_array_returns_the_shape_and_skips_values_of_tracers():
    assert v.check_array([[1.0, 2.0]], "x", shape=(1, None)) == (1, 2)
    assert v.check_array(jnp.array([jnp.nan]), "x", finite=False) == (1,)

    @jax.jit
    def f(x):
        v.check_array(x, "x", ndim=1, minimum=0.0)  # NaN and -1 are not visible under jit
        return x

    assert np.isnan(f(jnp.array([jnp.nan, -1.0]))[0])
    with pytest.raises(ValueError, match="x must be a 2-D array"):
        jax.jit(lambda x: v.check_array(x, "x", ndim=2))(jnp.ones(3))


def test_check_choice_callable_key_optimizer():
    assert v.check_choice("cg", "method", ("cg", "neumann")) == "cg"
    with pytest.raises(ValueError, match=r"method must be one of \['cg', 'neumann'\]; got 'lu'"):
        v.check_choice("lu", "method", ("cg", "neumann"))
    with pytest.raises(ValueError, match="method must be one of"):
        v.check_choice([1], "method", ("cg",))
    with pytest.raises(TypeError, match="loss_fn must be callable; got 3"):
        v.check_callable(3, "loss_fn")
    v.check_key(jax.random.key(0))
    v.check_key(jax.random.PRNGKey(0))
    with pytest.raises(TypeError, match="key must be a JAX PRNG key"):
        v.check_key(0)
    v.check_optimizer(optax.sgd(0.1))
    with pytest.raises(TypeError, match="optimizer must be an optax.GradientTransformation"):
        v.check_optimizer("adam")


def test_tree_checks_name_the_leaf():
    tree = {"w": jnp.ones(2), "b": jnp.array([0.0, jnp.inf])}
    with pytest.raises(ValueError, match=r"params must be finite; leaf \['b'\] contains NaN"):
        v.check_tree_finite(tree, "params")
    v.check_tree_finite({"w": jnp.ones(2), "n": jnp.ones(2, jnp.int32)}, "params")
    # typed PRNG keys (e.g. per-step augmentation keys in a batch) are skipped, not refused
    v.check_tree_finite((jnp.ones(2), jax.random.split(jax.random.key(0), 3)), "batch")
    with pytest.raises(ValueError, match="v must have the same tree structure as params"):
        v.check_same_structure(tree, {"w": jnp.ones(2), "c": jnp.ones(2)}, "params", "v")
    with pytest.raises(ValueError, match=r"v must have the leaf shapes of params; at \['w'\]"):
        v.check_same_structure(tree, {"w": jnp.ones(3), "b": jnp.ones(2)}, "params", "v")
    assert v.check_same_size({"x rows": 3, "y": 3}) == 3
    with pytest.raises(ValueError, match="x rows and y must have the same length; got x rows = 3"):
        v.check_same_size({"x rows": 3, "y": 4})
