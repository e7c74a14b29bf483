"""Keras Tuner's Bayesian oracle with an acquisition step that stays cheap as trials accumulate."""

import keras_tuner
import numpy as np
import threadpoolctl

_RUNNING = "RUNNING"  # keras_tuner's TrialStatus.RUNNING
_COMPLETED = "COMPLETED"


class CommittorOracle(keras_tuner.oracles.BayesianOptimizationOracle):
    """``keras_tuner.oracles.BayesianOptimizationOracle`` with the same model and criterion, found faster.

    The Gaussian process (Matern 5/2 kernel, normalised scores) and the lower confidence bound
    ``mu - beta * sigma`` it minimises are Keras Tuner's. Keras Tuner minimises the bound from 50 random
    starts with L-BFGS-B on finite differences, one ``predict`` of a single point per evaluation (thousands
    per trial), and refits the kernel from 21 starts: 2-9 CPU-s per trial after a few dozen trials. This
    oracle evaluates the bound on ``candidates`` uniform random points in one vectorised ``predict``, then on
    as many points scattered (normal, ``local_scale`` wide) around the best ``local_starts`` of them, and
    refits the kernel from ``1 + kernel_restarts`` starts. The points come from the oracle's seeded random
    state, so a search stays reproducible.

    Args:
        candidates: random points per round (two rounds: global, then local).
        local_starts: best global points the local round scatters around.
        local_scale: standard deviation of the local round, in the unit cube of the hyperparameters.
        kernel_restarts: extra random starts of the kernel's length-scale fit.
        **kwargs: the arguments of ``BayesianOptimizationOracle``.
    """

    def __init__(self, candidates=2000, local_starts=10, local_scale=0.05, kernel_restarts=2, **kwargs):
        self.candidates = candidates
        self.local_starts = local_starts
        self.local_scale = local_scale
        self.kernel_restarts = kernel_restarts
        super().__init__(**kwargs)

    def _make_gpr(self):
        gpr = super()._make_gpr()
        gpr.n_restarts_optimizer = self.kernel_restarts
        return gpr

    def populate_space(self, trial_id):
        """Random values for the first ``num_initial_points`` trials, then the minimum of the bound."""
        # The matrices are at most trials x candidates: one BLAS thread is fastest, and threads spinning on
        # a busy machine (a parallel search, TensorFlow) cost 10-100 times more CPU than the work.
        with threadpoolctl.threadpool_limits(1):
            return self._populate_space(trial_id)

    def _populate_space(self, trial_id):
        completed = [t for t in self.trials.values() if t.status == _COMPLETED]
        initial_points = self.num_initial_points or max(3 * len(self.hyperparameters.space), 3)
        if len(completed) < initial_points:
            return self._random_populate_space()
        x, y = self._vectorize_trials()
        self.gpr.fit(np.nan_to_num(x, posinf=0, neginf=0), np.nan_to_num(y, posinf=0, neginf=0))
        low, high = self._get_hp_bounds().T.astype(float)

        def bound(points):
            mu, sigma = self.gpr.predict(points, return_std=True)
            return mu - self.beta * sigma

        points = self._random_state.uniform(low, high, size=(self.candidates, len(low)))
        values = bound(points)
        starts = points[np.argsort(values)[:self.local_starts]]
        local = starts[self._random_state.randint(len(starts), size=self.candidates)]
        local = np.clip(local + self._random_state.normal(0.0, self.local_scale, local.shape), low, high)
        points, values = np.concatenate([points, local]), np.concatenate([values, bound(local)])
        return {"status": _RUNNING, "values": self._vector_to_values(points[np.argmin(values)])}
