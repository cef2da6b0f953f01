"""ModernBERT's ops (rotary positions, the local window and its softmax, the GeGLU halves and product):
each worked cell, the arithmetic a student follows, equals the op's vectorised value, on random inputs."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from encoder_cli import ops

finite = st.floats(-5, 5, allow_nan=False, allow_infinity=False)


def every_cell_agrees(op: ops.Op, *inputs: np.ndarray) -> None:
    value = op(*inputs)
    for i, j in np.ndindex(*value.shape):
        cell = ops.Cell(i, j, lambda v: f"{v:.3f}", ["A", "B", "C"], f"t{i}", f"d{j}")
        worked = op.work(cell, *inputs)
        assert math.isclose(worked.result, value[i, j], rel_tol=1e-12, abs_tol=1e-12), (i, j, worked.text)


@given(st.integers(1, 12), st.integers(1, 4), st.sampled_from([10_000.0, 160_000.0, 50.0, 3.0]), st.data())
def test_rotary_cells(n: int, half: int, theta: float, data: st.DataObject) -> None:
    d = 2 * half
    angles_op = ops.RopeAngles(n, d, theta)
    angles = angles_op()
    for p, i in np.ndindex(n, half):  # position p times frequency i, from the definition
        assert math.isclose(angles[p, i], p * theta ** (-2 * i / d), rel_tol=1e-14)
    every_cell_agrees(angles_op)
    every_cell_agrees(ops.Trig(sine=False), angles)
    every_cell_agrees(ops.Trig(sine=True), angles)
    cos, sin = ops.Trig(sine=False)(angles), ops.Trig(sine=True)(angles)
    q = data.draw(arrays(np.float64, (n, d), elements=finite))
    every_cell_agrees(ops.Rotary(), q, cos, sin)
    # The rotation keeps each pair's length: it turns (qᵢ, qᵢ₊d/2) by an angle.
    r = ops.Rotary()(q, cos, sin)
    np.testing.assert_allclose(r[:, :half] ** 2 + r[:, half:] ** 2, q[:, :half] ** 2 + q[:, half:] ** 2, atol=1e-9)


def test_rotary_cell_names_its_pair() -> None:
    """rotate_half pairs column 1 with column 1 + d_k/2 = 3, not with its neighbour; each named as the columns are."""
    q = np.arange(12.0).reshape(3, 4)
    angles = ops.RopeAngles(3, 4, 100.0)()
    assert angles[2, 1] == 2 * 100.0 ** (-2 / 4)  # 0.2
    cos, sin = ops.Trig(sine=False)(angles), ops.Trig(sine=True)(angles)
    cell = ops.Cell(2, 1, lambda v: f"{v:.3f}", ["Q", "cos", "sin"], "cat", "d1")
    worked = ops.Rotary().work(cell, q, cos, sin)
    assert worked.text.startswith(
        "Q[cat, d1] × cos[cat, d1] − Q[cat, d3] × sin[cat, d1] = 9.000 × 0.980 − 11.000 × 0.199"
    )
    assert math.isclose(worked.result, 9.0 * math.cos(0.2) - 11.0 * math.sin(0.2), rel_tol=1e-15)
    assert (
        ops.Trig(sine=False).work(cell._replace(j=3, inputs=["angles"]), angles).text
        == "cos(angles[cat, d1]) = cos(0.200)"
    )


@given(st.integers(1, 10), st.integers(0, 4), st.data())
def test_window_mask_and_masked_softmax_cells(n: int, w: int, data: st.DataObject) -> None:
    mask = ops.WindowMask(n, w)()
    every_cell_agrees(ops.WindowMask(n, w))
    s = data.draw(arrays(np.float64, (n, n), elements=finite))
    every_cell_agrees(ops.MaskedSoftmax(), s, mask)
    weights = ops.MaskedSoftmax()(s, mask)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    assert (weights[mask == 0] == 0).all() and (weights[mask == 1] > 0).all()


@given(st.integers(1, 6), st.integers(1, 5), st.data())
def test_geglu_cells(n: int, ff: int, data: st.DataObject) -> None:
    h = data.draw(arrays(np.float64, (n, 2 * ff), elements=finite))
    every_cell_agrees(ops.Half(False), h)
    every_cell_agrees(ops.Half(True), h)
    a, b = ops.Half(False)(h), ops.Half(True)(h)
    np.testing.assert_array_equal(np.hstack([a, b]), h)
    every_cell_agrees(ops.Product(), ops.GELU()(a), b)
