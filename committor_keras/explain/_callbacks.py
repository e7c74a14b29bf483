"""Keras callbacks that explain the model being trained: at the end of training and, optionally, every n
epochs. They hold only NumPy arrays and settings, so Keras Tuner can deep-copy them for every trial.

Keras runs ``on_train_end`` in list order: put these callbacks after an ``EarlyStopping`` with
``restore_best_weights=True``, or they explain the last epoch's weights instead of the restored best ones.
"""

import itertools
from pathlib import Path

import keras

from ._inputs import explain_set
from ._model_report import explain_model
from ._permutation import require_labels

FIT_PLACEHOLDER = "{fit}"


class _ExplanationCallback(keras.callbacks.Callback):
    """Shared behaviour: when to explain, where to write, TensorBoard summaries."""

    _method = None

    def __init__(self, data, out_dir, *, every_n_epochs=None, log_dir=None, regions=("all", "transition"),
                 top_features=4, figures=True, seed=0, points_kwargs=None, **options):
        super().__init__()
        self.points = explain_set(data, **(points_kwargs or {}))
        self.out_dir = str(out_dir)
        self.log_dir = None if log_dir is None else str(log_dir)
        self.every_n_epochs = every_n_epochs
        self.report_options = {"regions": tuple(regions), "top_features": top_features, "figures": figures,
                               "seed": seed, **options}
        self.tables = None
        self._fit_dirs = None
        self._epochs_done = 0

    def on_train_begin(self, logs=None):
        self._fit_dirs = _claim_fit_directories(self.out_dir, self.log_dir, self._method)
        self._epochs_done = 0

    def on_epoch_end(self, epoch, logs=None):
        self._epochs_done = epoch + 1
        if self.every_n_epochs and self._epochs_done % self.every_n_epochs == 0:
            self.explain_now(epoch=self._epochs_done)

    def on_train_end(self, logs=None):
        self.tables = self.explain_now()

    def explain_now(self, epoch=None):
        """Explain the current model and write its report; returns the stacked region tables.

        Args:
            epoch: when given, the report goes to ``out_dir/epoch-NNNN/`` and is labelled with the epoch;
                otherwise to ``out_dir`` (the final report).
        """
        out_dir, log_dir = self._fit_dirs or _claim_fit_directories(self.out_dir, self.log_dir, self._method)
        target = out_dir if epoch is None else out_dir / f"epoch-{epoch:04d}"
        reports = explain_model(self.model, self.points, target, methods=(self._method,), log_dir=log_dir,
                                step=self._epochs_done if epoch is None else epoch, epoch=epoch,
                                **self.report_options)
        return reports[self._method]


class IntegratedGradientsCallback(_ExplanationCallback):
    """Integrated-gradients report of the trained model (``ig.csv``, ``ig.json``, figures) in ``out_dir``.

    Args:
        data: points to explain (``CommittorData``, (N, F) array, ``ExplainSet``), normally the test split.
        out_dir: report directory, e.g. ``RUN/top/01/xai``. ``{fit}`` in it (and in ``log_dir``) becomes
            ``001``, ``002``, ... per ``fit`` call, so the copies Keras Tuner makes for each trial do not
            overwrite each other.
        baseline: ``"mean"``, ``"A"``, ``"B"`` or a feature vector (see ``integrated_gradients``).
        output: ``"logit"`` or ``"committor"``.
        steps: quadrature nodes.
        quadrature: quadrature rule (``"gauss-legendre"`` or a Riemann rule).
        every_n_epochs: also report every n epochs into ``out_dir/epoch-NNNN/`` (None: only at the end).
        log_dir: TensorBoard log directory for importance scalars and attribution histograms (None: none).
        regions: regions of the model's q to average over (``"all"``, ``"transition"``: 0.4 < q < 0.6).
        top_features: groups drawn in the attribution-vs-value figure.
        figures: whether to draw figures.
        seed: bootstrap seed.
        points_kwargs: optional dict for ``explain_set`` (``indices``, ``feature_names``, ``groups``,
            ``aliases``, ``labels``).
    """

    _method = "ig"

    def __init__(self, data, out_dir, *, baseline="mean", output="logit", steps=64, quadrature="gauss-legendre",
                 **kwargs):
        super().__init__(data, out_dir, baseline=baseline, output=output, steps=steps, quadrature=quadrature,
                         **kwargs)


class PermutationImportanceCallback(_ExplanationCallback):
    """Permutation-importance report (``permutation.csv``, ``permutation.json``, figure) in ``out_dir``.

    Args:
        data: labelled points (``CommittorData`` or ``ExplainSet``, or an array with
            ``points_kwargs={"labels": ...}``), normally the test split.
        out_dir: report directory (``{fit}`` as for ``IntegratedGradientsCallback``).
        repeats: permutations per feature group.
        **kwargs: ``every_n_epochs``, ``log_dir``, ``regions``, ``top_features``, ``figures``, ``seed`` (also
            the permutations' seed) and ``points_kwargs``, as for ``IntegratedGradientsCallback``.
    """

    _method = "permutation"

    def __init__(self, data, out_dir, *, repeats=10, **kwargs):
        super().__init__(data, out_dir, repeats=repeats, **kwargs)
        require_labels(self.points)


def _claim_fit_directories(out_dir, log_dir, method):
    """Resolve ``{fit}`` to the first number this kind of callback has not used yet.

    Each callback kind leaves a marker ``.claimed-<method>`` in the directory it takes, so the IG and the
    permutation callbacks of one ``fit`` land in the same numbered directory, and the next ``fit`` (the next
    trial's deep copies) in the next one.
    """
    if FIT_PLACEHOLDER not in out_dir:
        return Path(out_dir), None if log_dir is None else Path(log_dir)
    for number in itertools.count(1):
        candidate = Path(out_dir.replace(FIT_PLACEHOLDER, f"{number:03d}"))
        candidate.mkdir(parents=True, exist_ok=True)
        try:
            (candidate / f".claimed-{method}").open("x").close()
        except FileExistsError:
            continue
        return candidate, None if log_dir is None else Path(log_dir.replace(FIT_PLACEHOLDER, f"{number:03d}"))
