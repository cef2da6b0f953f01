"""Properties of the math, checked on many generated inputs (hypothesis) against the
definitions written out with the math module."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import encoder_cli
from encoder_cli import ops
from encoder_cli.settings import Activation, Pooling
from tests.conftest import FIXTURES

finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False)
matrices = st.integers(1, 6).flatmap(
    lambda n: st.integers(1, 8).flatmap(lambda m: arrays(np.float64, (n, m), elements=finite))
)


@given(matrices, finite)
def test_softmax_rows_sum_to_one_and_ignore_a_shift(x: np.ndarray, shift: float) -> None:
    y = ops.softmax(x)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-12)
    assert (y >= 0).all()
    np.testing.assert_allclose(ops.softmax(x + shift), y, rtol=1e-9, atol=1e-15)


@given(matrices)
def test_softmax_is_exp_over_sum_of_exps(x: np.ndarray) -> None:
    for row, out in zip(x, ops.softmax(x), strict=True):
        exps = [math.exp(v) for v in row]
        np.testing.assert_allclose(out, [e / math.fsum(exps) for e in exps], rtol=1e-12)


def test_softmax_does_not_overflow() -> None:
    np.testing.assert_allclose(ops.softmax(np.array([[1000.0, 1000.0, -1000.0]])), [[0.5, 0.5, 0.0]])


@given(matrices.filter(lambda x: x.shape[1] > 1 and (x.std(axis=1) > 1e-3).all()))
def test_layer_norm_rows_have_mean_0_and_variance_1(x: np.ndarray) -> None:
    d = x.shape[1]
    mean = ops.Mean()(x)
    var = ops.Variance()(x, mean)
    y = ops.Normalise(np.ones(d), np.zeros(d), 0.0)(x, mean, var)
    np.testing.assert_allclose(y.mean(axis=1), 0.0, atol=1e-9)
    np.testing.assert_allclose(y.var(axis=1), 1.0, rtol=1e-9)
    for row, m, v in zip(x, mean[:, 0], var[:, 0], strict=True):
        hand_mean = math.fsum(row) / d
        assert m == np.float64(hand_mean) or math.isclose(m, hand_mean, rel_tol=1e-12, abs_tol=1e-12)
        assert math.isclose(v, math.fsum((r - hand_mean) ** 2 for r in row) / d, rel_tol=1e-9, abs_tol=1e-12)


@given(st.integers(1, 40), st.integers(1, 16), st.sampled_from([10000.0, 100.0, 7.5]))
def test_sinusoid_cell_by_cell(n: int, d: int, base: float) -> None:
    pe = ops.sinusoidal(n, d, base)
    for pos in range(n):
        for j in range(d):
            angle = pos / base ** ((2 * (j // 2)) / d)
            assert math.isclose(pe[pos, j], math.sin(angle) if j % 2 == 0 else math.cos(angle), abs_tol=1e-12)


moderate = (
    st.integers(1, 6)
    .map(lambda m: (1, m))
    .flatmap(lambda shape: arrays(np.float64, shape, elements=st.floats(-12, 12)))
)


def _gelu(v: mp.mpf) -> mp.mpf:
    return v / 2 * (1 + mp.erf(v / mp.sqrt(2)))


def _gelu_tanh(v: mp.mpf) -> mp.mpf:
    return v / 2 * (1 + mp.tanh(mp.sqrt(2 / mp.pi) * (v + mp.mpf("0.044715") * v**3)))


# The definition of every declared activation, evaluated by mpmath: one declared without one fails.
DEFINITIONS = {"relu": lambda v: max(mp.mpf(0), v), "gelu": _gelu, "gelu_tanh": _gelu_tanh}


def test_every_declared_activation_has_a_definition_here() -> None:
    assert set(DEFINITIONS) == {a.value for a in Activation} == {a.value for a in ops.ACTIVATIONS}


@settings(max_examples=200)
@given(moderate)
def test_activations_match_their_definitions_to_full_precision(x: np.ndarray) -> None:
    """Against the definitions evaluated with 120 significant digits (mpmath), not float64:
    for |x| <= 12, 1 + erf(...) and 1 + tanh(...) cancel at most ~65 digits."""
    mp.mp.dps = 120
    for name, op in ops.ACTIVATIONS.items():
        exact = [float(DEFINITIONS[name.value](mp.mpf(v))) for v in x.ravel()]
        np.testing.assert_allclose(op(x).ravel(), exact, rtol=1e-13, atol=1e-300)
        for v, e in zip(x.ravel(), exact, strict=True):  # the worked cell, one value at a time
            assert math.isclose(op.worked(str, float(v)).result, e, rel_tol=1e-12, abs_tol=1e-300)


def test_activations_at_extremes_neither_overflow_nor_stray_from_relu() -> None:
    x = np.array([[-1e3, -50.0, -20.0, 20.0, 50.0, 1e3]])
    for op in ops.ACTIVATIONS.values():
        assert np.isfinite(op(x)).all()
    for op in (ops.GELU(), ops.GELUTanh()):  # x Φ(x): Φ(-20) is 3e-89
        np.testing.assert_allclose(op(x), np.maximum(x, 0.0), atol=1e-80)


def test_the_heatmap_is_the_attention_weights_and_nothing_else() -> None:
    trace = encoder_cli.explain("The cat sat on the mat", weights=FIXTURES / "the-cat-sat-on-the-mat.yaml").trace
    heat = [s for s in trace.steps if s.op.heatmap]
    assert [s.id.rsplit(".", 1)[-1] for s in heat] == ["weights"] * 4  # 2 layers x 2 heads
    assert all(np.allclose(s.value.sum(axis=1), 1) and (s.value >= 0).all() for s in heat)  # shares of 1


def test_each_pooling_is_its_row_and_its_worked_cell_agrees() -> None:
    x = np.array([[1.0, -2.0], [3.0, 0.5], [-1.0, 4.0]])
    expected = {Pooling.mean: [1.0, 2.5 / 3], Pooling.cls: [1.0, -2.0], Pooling.max: [3.0, 4.0]}  # by hand
    for mode, row in expected.items():
        pool = ops.Pool(mode)
        np.testing.assert_allclose(pool(x), [row], rtol=1e-15)
        for j in range(2):
            cell = ops.Cell(0, j, str, ["out"], "sentence", f"d{j}")
            assert math.isclose(pool.work(cell, x).result, row[j], rel_tol=1e-15)
