"""The encoder's math as small pure numpy functions, named as in the paper.

Conventions (../shared/spec/weights-format.md): float64 throughout, row vectors,
every projection is `x @ W` with W stored (inputs x outputs).
"""

import math

import numpy as np

Array = np.ndarray


def sinusoidal(n: int, d: int, base: float) -> Array:  # -> [n, d]
    """PE(pos, 2i) = sin(pos / base^(2i/d)),  PE(pos, 2i+1) = cos(pos / base^(2i/d))."""
    pos = np.arange(n, dtype=np.float64)[:, None]
    two_i = (np.arange(d) // 2 * 2).astype(np.float64)  # 2i for columns 2i and 2i+1
    angle = pos / base ** (two_i / d)
    return np.where(np.arange(d) % 2 == 0, np.sin(angle), np.cos(angle))


def softmax(x: Array) -> Array:  # [n, m] -> [n, m], each row sums to 1
    """softmax(x)_j = exp(x_j) / sum_k exp(x_k); shifting by the row max changes nothing but overflow."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    out: Array = e / e.sum(axis=-1, keepdims=True)
    return out


def layer_norm(x: Array, gamma: Array, beta: Array, eps: float) -> tuple[Array, Array, Array]:
    """(x - mean) / sqrt(var + eps) * gamma + beta, per row; var is the population variance.

    [n, d] -> y [n, d], mean [n, 1], var [n, 1]
    """
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta, mean, var


def relu(x: Array) -> Array:
    """ReLU(x) = max(0, x)."""
    return np.maximum(x, 0.0)  # type: ignore[no-any-return]


_erfc = np.frompyfunc(math.erfc, 1, 1)


def gelu(x: Array) -> Array:
    """GELU(x) = x * Phi(x) = x/2 * (1 + erf(x / sqrt(2))), the exact form.

    Computed as x/2 * erfc(-x / sqrt(2)), the same number without the cancellation
    of 1 + erf(...) for negative x (at x = -5.6 that sum keeps only 9 of 16 digits).
    """
    return 0.5 * x * np.asarray(_erfc(-x / math.sqrt(2.0)), dtype=np.float64)


def gelu_tanh(x: Array) -> Array:
    """GELU(x) ~ x/2 * (1 + tanh(u)), u = sqrt(2/pi) * (x + 0.044715 x^3), the tanh approximation.

    Computed as x * sigmoid(2u) (since 1 + tanh(u) = 2 sigmoid(2u)), with e = exp(-|2u|) so
    that nothing cancels or overflows.
    """
    two_u = 2.0 * math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)
    e = np.exp(-np.abs(two_u))
    return x * np.where(two_u >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


ACTIVATIONS = {"relu": relu, "gelu": gelu, "gelu_tanh": gelu_tanh}
