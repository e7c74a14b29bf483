"""One seeded, resumable Bayesian search over the committor network (Keras Tuner)."""

import contextlib
import logging
import warnings
from pathlib import Path

import keras
import keras_tuner
from sklearn.exceptions import ConvergenceWarning

from committor_keras._errors import CommittorKerasError
from committor_keras._provenance import seed_everything, write_json_atomic
from committor_keras.model import OBJECTIVE, CommittorHyperModel, DivergedError
from committor_keras.search._oracle import ResumableBayesianOracle

HISTORY_FILE = "history.json"
_CONSECUTIVE_FAILURES = "Number of consecutive failures exceeded the limit"


def search_dir_name(seed):
    """The Keras Tuner project directory of the search with this seed, relative to the run directory."""
    return f"search-{seed}"


class CommittorTuner(keras_tuner.Tuner):
    """Bayesian optimisation that also keeps each trial's per-epoch history (``trial_<id>/history.json``).

    Keras Tuner itself stores only the best epoch's metrics of a trial; the histories feed ``trials.json``
    and learning-curve plots. A diverged trial keeps its history up to the epoch that failed. The oracle is
    a :class:`ResumableBayesianOracle` (see :func:`run_search`), and the tuner's own state file is written
    atomically too, so a search killed at any moment reloads.
    """

    def save(self):
        if not self._is_worker():
            self.oracle.save()
        write_json_atomic(self._get_tuner_fname(), self.get_state())

    def run_trial(self, trial, *args, **kwargs):
        path = Path(self.get_trial_dir(trial.trial_id)) / HISTORY_FILE
        try:
            histories = super().run_trial(trial, *args, **kwargs)
        except DivergedError as error:
            write_json_atomic(path, {"history": error.history, "diverged": str(error)})
            raise
        # One execution per trial (the default), so the last history is the trial's.
        write_json_atomic(path, {"history": histories[-1].history})
        return histories


def run_search(train, validation, run_dir, seed, config, verbose=1, callbacks=(), role=None):
    """Run (or resume) the Bayesian search with one seed until it has ``max_trials`` trials.

    Results live in ``RUN/search-<seed>/`` (Keras Tuner's project directory: running again with the same
    arguments continues an interrupted search and never repeats a finished trial) and TensorBoard logs in
    ``RUN/logs/search-<seed>/<trial>/``, with Keras Tuner's HParams summaries.

    Args:
        train: ``(x, y, w)`` training arrays (``w`` may be None).
        validation: ``(x, y, w)`` validation arrays.
        run_dir: the run directory.
        seed: the search's seed (oracle, initialisation and shuffling derive from it).
        config: SearchConfig.
        verbose: 0 silent, 1 one summary per trial, 2 also Keras' per-epoch lines.
        callbacks: extra Keras callbacks for every trial (Keras Tuner copies them per trial), e.g.
            ``committor_keras.explain.IntegratedGradientsCallback``.
        role: None for a search in this process, else the ``Chief`` or ``Worker`` of a distributed search
            (``committor_keras.search._distributed``; a worker's Keras Tuner variables must be set around the
            call, see ``Worker.environment``).

    Returns:
        The CommittorTuner after the search.

    Raises:
        CommittorKerasError: when ``max_consecutive_failures`` trials in a row diverge.
    """
    settings = config.search
    seed_everything(seed)
    hypermodel = CommittorHyperModel(train[0], space=config.space, loss=settings.loss, seed=seed)
    oracle = ResumableBayesianOracle(
        objective=keras_tuner.Objective(OBJECTIVE, direction="min"),
        max_trials=settings.max_trials,
        num_initial_points=settings.initial_points,
        # Keras Tuner draws a random seed for a falsy one, so search 0 would not be reproducible.
        seed=seed + 1,
        max_consecutive_failed_trials=settings.max_consecutive_failures,
        **({} if role is None else role.oracle_options(seed)),
    )
    tuner = CommittorTuner(
        oracle,
        hypermodel,
        directory=str(run_dir),
        project_name=search_dir_name(seed),
        overwrite=False,
    )
    tensorboard = keras.callbacks.TensorBoard(log_dir=str(Path(run_dir) / "logs" / search_dir_name(seed)),
                                              write_graph=False, profile_batch=0)
    try:
        with _quiet_library_warnings():
            search = tuner.search if role is None else role.search_function(tuner)
            search(train=train, validation=validation, epochs=settings.epochs,
                   patience=settings.patience, callbacks=[tensorboard, *callbacks], verbose=int(verbose > 0),
                   fit_verbose=2 if verbose > 1 else 0)
    except RuntimeError as error:
        if not str(error).startswith(_CONSECUTIVE_FAILURES):
            raise
        last = [line for line in str(error).splitlines() if line.strip()][-1]
        raise CommittorKerasError(
            f"{Path(run_dir) / search_dir_name(seed)}: {settings.max_consecutive_failures} trials in a row "
            f"failed (last: {last}); narrow the search space (e.g. space.learning_rate.max) or raise "
            "search.max_consecutive_failures") from None
    return tuner


@contextlib.contextmanager
def _quiet_library_warnings():
    """Silence two expected, alarming-looking messages during a search.

    TensorFlow warns about "retracing" because every trial compiles a new model, and scikit-learn's
    Gaussian process warns that length scales sit at their bounds while it has seen few trials.
    """
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            yield
    finally:
        logger.setLevel(level)
