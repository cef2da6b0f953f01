"""DeBERTa's ops (the relative positions δ(i, j) in log buckets, the rows of the relative embeddings, the
c2p and p2c terms, the terms' sum over √(d_k × terms)): each worked cell, the arithmetic a student follows,
equals the op's vectorised value, on random inputs; and the terms are their definitions."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from encoder_cli import ops
from tests.unit.test_modern_ops import every_cell_agrees

finite = st.floats(-5, 5, allow_nan=False, allow_infinity=False)
layouts = st.sampled_from([(0, 6, 6), (8, 16, 8), (6, 20, 6), (2, 10, 2), (256, 512, 256), (4, 40, 4)])


@given(st.integers(1, 30), layouts)
def test_relative_positions_cells(n: int, layout: tuple[int, int, int]) -> None:
    buckets, top, span = layout
    op = ops.RelativePositions(n, buckets, top, span)
    every_cell_agrees(op)
    delta = op()
    assert sorted({int(v) for v in delta.flat}) == op.deltas()
    assert delta.min() >= -span and delta.max() <= span - 1
    for i, j in np.ndindex(n, n):  # within buckets // 2 (or with no buckets) δ is i − j, up to the table's edge
        if buckets == 0 or abs(i - j) <= buckets // 2:
            assert delta[i, j] == min(max(i - j, -span), span - 1)


@given(st.integers(-2000, 2000), st.sampled_from([(8, 16), (6, 20), (256, 512), (2, 10), (64, 1024)]))
def test_log_buckets_are_odd_and_grow(r: int, layout: tuple[int, int]) -> None:
    buckets, top = layout
    assert ops.log_bucket(-r, buckets, top) == -ops.log_bucket(r, buckets, top)
    assert ops.log_bucket(r + 1, buckets, top) >= ops.log_bucket(r, buckets, top)


def test_a_log_bucket_worked_by_hand() -> None:
    """δ(13, 2) = 11 past 4 of 8 buckets, ending at 16: 4 + ⌈3 ln(11/4) / ln(15/4)⌉ = 4 + ⌈2.30⌉ = 7."""
    assert ops.log_bucket(11, 8, 16) == 7 and ops.log_bucket(-11, 8, 16) == -7
    cell = ops.Cell(13, 2, lambda v: f"{v:.3f}", [], "home", "cat")
    worked = ops.RelativePositions(14, 8, 16, 8).work(cell)
    assert worked.text == "13 − 2 = 11, past 4: (4 + ⌈3 × ln(11/4) / ln(15/4)⌉)" and worked.result == 7
    edge = ops.RelativePositions(30, 0, 6, 6).work(cell._replace(i=20))  # no buckets: 18, clamped to 5
    assert edge.text == "20 − 2 = 18, past the table's -6 … 5: its edge" and edge.result == 5


@given(st.integers(1, 10), st.integers(1, 5), layouts, st.data())
def test_position_term_cells(n: int, d_k: int, layout: tuple[int, int, int], data: st.DataObject) -> None:
    delta = ops.RelativePositions(n, *layout)()
    deltas = ops.RelativePositions(n, *layout).deltas()
    content = data.draw(arrays(np.float64, (n, d_k), elements=finite))
    position = data.draw(arrays(np.float64, (len(deltas), d_k), elements=finite))
    table = data.draw(arrays(np.float64, (len(deltas), 3), elements=finite))
    every_cell_agrees(ops.RelativeRows(table, deltas, layout[2]))
    for to_position in (True, False):
        op = ops.PositionTerm(to_position, deltas)
        every_cell_agrees(op, content, position, delta)
        value = op(content, position, delta)
        for i, j in np.ndindex(n, n):  # c2p: the query's content; p2c: the key's; both at row δ(i, j)
            own = content[i] if to_position else content[j]
            assert math.isclose(value[i, j], own @ position[deltas.index(int(delta[i, j]))], abs_tol=1e-12)
    terms = [data.draw(arrays(np.float64, (n, n), elements=finite)) for _ in range(data.draw(st.integers(1, 3)))]
    every_cell_agrees(ops.ScaleTerms(d_k, len(terms)), *terms)
    np.testing.assert_allclose(ops.ScaleTerms(d_k, 3)(*terms), sum(terms) / math.sqrt(3 * d_k))


def test_a_position_term_names_the_row_it_read() -> None:
    """c2p[cat, home] reads K_r at δ(cat, home); a student's δ that is no row of K_r has no value."""
    deltas = [-1, 0, 1]
    content, position = np.arange(4.0).reshape(2, 2), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    delta = np.array([[0.0, -1.0], [1.0, 0.0]])
    cell = ops.Cell(0, 1, lambda v: f"{v:.1f}", ["Q", "K_r", "δ"], "cat", "home")
    worked = ops.PositionTerm(True, deltas).work(cell, content, position, delta)
    assert worked.text == "Q[cat] · K_r[δ = -1] = (0.0 × 1.0) + (1.0 × 0.0)" and worked.result == 0.0
    worked = ops.PositionTerm(False, deltas).work(cell._replace(inputs=["K", "Q_r", "δ"]), content, position, delta)
    assert worked.text == "K[home] · Q_r[δ = -1] = (2.0 × 1.0) + (3.0 × 0.0)" and worked.result == 2.0
    wrong = delta.copy()
    wrong[0, 1] = 2.5
    assert math.isnan(ops.PositionTerm(True, deltas)(content, position, wrong)[0, 1])
    assert math.isnan(ops.PositionTerm(True, deltas).work(cell, content, position, wrong).result)
