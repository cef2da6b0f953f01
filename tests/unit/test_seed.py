"""The seed's worked example ("The cat sat", d_model 4): its right numbers, and where it slips.

Expected values here are worked by hand from the seed's own formulas with the math module,
never taken from our output.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from encoder_cli import api, explain, ops, settings
from tests.conftest import SEED

# What the seed prints.
SEED_X = [[0.2, 0.4, 0.8, 0.6], [0.5, 0.1, 0.9, 0.7], [0.3, 0.8, 0.2, 0.4]]
SEED_PE = [[0.0, 1.0, 0.0, 1.0], [0.84, 0.54, 0.08, 0.99], [0.90, 0.43, 0.16, 0.99]]
SEED_X_PRIME = [[0.2, 1.4, 0.8, 1.6], [1.34, 0.64, 0.98, 1.69], [1.2, 1.23, 0.36, 1.39]]
SEED_W_Q = [[0.1, 0.3, 0.5, 0.7], [0.2, 0.4, 0.6, 0.8], [0.9, 0.7, 0.5, 0.3], [0.8, 0.6, 0.4, 0.2]]


@pytest.fixture(scope="module")
def steps() -> dict[str, np.ndarray]:
    trace = explain("The cat sat", weights=SEED)
    return {s.id: s.values for s in trace.steps}


def hand_pe(pos: int, j: int, d: int = 4) -> float:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d))."""
    angle = pos / 10000 ** ((j - j % 2) / d)
    return math.sin(angle) if j % 2 == 0 else math.cos(angle)


def test_fixture_holds_the_seeds_embeddings_and_W_Q() -> None:
    trace = explain("The cat sat", weights=SEED)
    assert trace["X"].tolist() == SEED_X
    assert trace["Q"].tolist() == (np.array(trace["X'"]) @ np.array(SEED_W_Q)).tolist()  # W_Q, as Q = X' W_Q


def test_the_example_sentence_is_the_seeds_in_its_file_and_init() -> None:
    assert settings.EXAMPLE_SENTENCE == "The cat sat" == settings.DEFAULTS.sentence
    assert yaml.safe_load(api.EXAMPLE.read_text(encoding="utf-8"))["sentence"] == settings.EXAMPLE_SENTENCE


def test_x_prime_first_row_is_the_seeds(steps) -> None:
    # Position 0: PE = [sin 0, cos 0, sin 0, cos 0] = [0, 1, 0, 1], so X'[0] = [0.2, 1.4, 0.8, 1.6].
    np.testing.assert_allclose(steps["input"][0], [0.2, 1.4, 0.8, 1.6], atol=1e-15)


def test_first_query_cell_is_the_seeds_2_30(steps) -> None:
    hand = (0.2 * 0.1) + (1.4 * 0.2) + (0.8 * 0.9) + (1.6 * 0.8)
    assert round(hand, 2) == 2.30
    assert steps["layers.0.attention.heads.0.Q"][0, 0] == pytest.approx(hand, abs=1e-12)


def test_positional_encoding_is_the_sinusoid(steps) -> None:
    hand = [[hand_pe(pos, j) for j in range(4)] for pos in range(3)]
    np.testing.assert_allclose(steps["positional"], hand, atol=1e-15)


def test_the_seeds_pe_table_slips_in_exactly_these_cells(steps) -> None:
    """At the seed's two decimals, its "precomputed" PE is right in row 0 and cat's first two
    cells only: PE(1, 2) = sin(0.01) = 0.01 (not 0.08), PE(1, 3) = cos(0.01) = 1.00 (not 0.99),
    and for "sat" [0.91, -0.42, 0.02, 1.00], not [0.90, 0.43, 0.16, 0.99]."""
    true = np.round([[hand_pe(pos, j) for j in range(4)] for pos in range(3)], 2)
    wrong = {(p, j) for p in range(3) for j in range(4) if true[p][j] != SEED_PE[p][j]}
    assert wrong == {(1, 2), (1, 3), (2, 0), (2, 1), (2, 2), (2, 3)}
    assert true[2].tolist() == [0.91, -0.42, 0.02, 1.0]
    np.testing.assert_allclose(np.round(steps["positional"], 2), true)


def test_the_seeds_x_prime_adds_correctly_but_inherits_the_pe_slips(steps) -> None:
    # Its additions are right (X + its PE gives its X')...
    np.testing.assert_allclose(np.add(SEED_X, SEED_PE), SEED_X_PRIME, atol=1e-12)
    # ...but with the true PE, the rows of "cat" and "sat" differ.
    true = np.round(np.add(SEED_X, [[hand_pe(p, j) for j in range(4)] for p in range(3)]), 2)
    assert true.tolist() == [[0.2, 1.4, 0.8, 1.6], [1.34, 0.64, 0.91, 1.7], [1.21, 0.38, 0.22, 1.4]]
    np.testing.assert_allclose(np.round(steps["input"], 2), true)


def test_the_seeds_softmax_example_is_0_38_not_0_42() -> None:
    # e^0.815 / (e^0.815 + e^0.7 + e^0.5), by hand:
    hand = math.exp(0.815) / (math.exp(0.815) + math.exp(0.7) + math.exp(0.5))
    assert round(hand, 2) == 0.38
    assert ops.softmax(np.array([[0.815, 0.7, 0.5]]))[0, 0] == pytest.approx(hand, abs=1e-15)


def test_the_seeds_softmax_of_one_score_is_a_sigmoid() -> None:
    # "softmax(0.625) = 0.65": a softmax over one score is 1; 0.65 is the sigmoid 1 / (1 + e^-0.625).
    assert ops.softmax(np.array([[0.625]]))[0, 0] == 1.0
    assert round(1 / (1 + math.exp(-0.625)), 2) == 0.65
