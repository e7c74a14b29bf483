"""Quadrature rules on [0, 1] for the path integral of integrated gradients."""

import numpy as np

from committor_keras._errors import ConfigError

METHODS = ("gauss-legendre", "riemann-left", "riemann-right", "riemann-midpoint", "riemann-trapezoid")


def quadrature(method, steps):
    """Nodes and weights of a rule on [0, 1]; the weights sum to one.

    Args:
        method: one of ``METHODS``. Gauss-Legendre is exact for polynomials of degree 2*steps - 1 and converges
            much faster than the Riemann rules on a smooth network; the Riemann rules are the ones of the
            original paper (Sundararajan et al. 2017) and of Captum.
        steps: number of intervals (Riemann) or nodes (Gauss-Legendre); the trapezoid rule evaluates
            ``steps + 1`` nodes.

    Returns:
        (alphas, weights): float64 arrays of equal length.
    """
    steps = int(steps)
    if steps < 1:
        raise ConfigError(f"integrated gradients: steps must be >= 1, got {steps}")
    if method == "gauss-legendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return (nodes + 1.0) / 2.0, weights / 2.0
    grid = np.arange(steps + 1, dtype=np.float64) / steps
    uniform = np.full(steps, 1.0 / steps)
    if method == "riemann-left":
        return grid[:-1], uniform
    if method == "riemann-right":
        return grid[1:], uniform
    if method == "riemann-midpoint":
        return (grid[:-1] + grid[1:]) / 2.0, uniform
    if method == "riemann-trapezoid":
        weights = np.full(steps + 1, 1.0 / steps)
        weights[[0, -1]] /= 2.0
        return grid, weights
    raise ConfigError(f"integrated gradients: unknown method '{method}'; choose one of {', '.join(METHODS)}")
