"""One seeded, resumable Bayesian search over the committor network (Keras Tuner)."""

import contextlib
import logging
import warnings
from pathlib import Path

import keras
import keras_tuner
from keras_tuner.src.engine.tuner_utils import TunerCallback
from sklearn.exceptions import ConvergenceWarning

from committor_keras._errors import CommittorKerasError
from committor_keras._provenance import derive_seed, seed_everything, write_json_atomic
from committor_keras.model import OBJECTIVE, CommittorHyperModel, DivergedError
from committor_keras.search._oracle import CommittorOracle
from committor_keras.search._tensorboard import (LOG_DIR, search_hparams, session_name, trial_callbacks,
                                                 write_experiment)

HISTORY_FILE = "history.json"
_CONSECUTIVE_FAILURES = "Number of consecutive failures exceeded the limit"


def search_dir_name(seed):
    """The Keras Tuner project directory of the search with this seed, relative to the run directory."""
    return f"search-{seed}"


def oracle_seed(seed):
    """The Bayesian oracle's seed of the search with this seed.

    Hashed rather than ``seed + 1``: Keras Tuner adds 1 to its seed state per random draw, so oracles seeded
    with consecutive integers propose the same hyperparameters one draw apart (searches would not be
    independent). Never 0, which Keras Tuner replaces by a random seed.
    """
    return derive_seed(seed, "oracle")


class CommittorTuner(keras_tuner.Tuner):
    """Bayesian optimisation that also keeps each trial's per-epoch history (``trial_<id>/history.json``).

    Keras Tuner itself stores only the best epoch's metrics of a trial; the histories feed ``trials.json``
    and learning-curve plots. A diverged trial keeps its history up to the epoch that failed.

    Three things differ from ``keras_tuner.BayesianOptimization``, for speed, none in the results: the oracle
    is :class:`CommittorOracle` (the same Gaussian process and bound, minimised faster); a trial saves its
    weights once, after training, instead of at every improving epoch (the model then holds its best
    epoch's weights, which is what Keras Tuner's checkpoint holds); and the Keras session is cleared before a
    trial without the full garbage collection Keras Tuner adds (seconds a trial) and, but every
    :data:`KERNEL_CACHE_TRIALS` trials, without emptying TensorFlow's kernel cache (see
    :func:`clear_keras_state`). For reliability, the oracle
    resumes exactly and its files, like the tuner's own state file, are written atomically, so a search
    killed at any moment reloads.

    Args:
        hypermodel: the CommittorHyperModel.
        objective, max_trials, num_initial_points, seed, max_consecutive_failed_trials: as for
            ``keras_tuner.BayesianOptimization``.
        oracle_options: further arguments of :class:`CommittorOracle` (a distributed search's
            ``search_tag`` and ``search_order``).
        **kwargs: the arguments of ``keras_tuner.Tuner`` (directory, project_name, overwrite, ...).
    """

    def __init__(self, hypermodel, objective, max_trials, num_initial_points=None, seed=None,
                 max_consecutive_failed_trials=3, oracle_options=None, **kwargs):
        oracle = CommittorOracle(objective=objective, max_trials=max_trials, num_initial_points=num_initial_points,
                                 seed=seed, max_consecutive_failed_trials=max_consecutive_failed_trials,
                                 **(oracle_options or {}))
        super().__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)

    def save(self):
        if not self._is_worker():
            self.oracle.save()
        write_json_atomic(self._get_tuner_fname(), self.get_state())

    def run_trial(self, trial, *args, callbacks=(), **kwargs):
        path = Path(self.get_trial_dir(trial.trial_id)) / HISTORY_FILE
        # Keras Tuner's run_trial, with one execution and one checkpoint at the end.
        trial_callbacks = self._deepcopy_callbacks(list(callbacks))
        self._configure_tensorboard_dir(trial_callbacks, trial)
        trial_callbacks.append(TunerCallback(self, trial))
        model = self._try_build(trial.hyperparameters)
        try:
            history = self.hypermodel.fit(trial.hyperparameters, model, *args, callbacks=trial_callbacks, **kwargs)
        except DivergedError as error:
            self._check_lease(trial)
            write_json_atomic(path, {"history": error.history, "diverged": str(error)})
            raise
        self._check_lease(trial)
        model.save_weights(self._get_checkpoint_fname(trial.trial_id))
        write_json_atomic(path, {"history": history.history})
        return [history]

    def _check_lease(self, trial):
        # A distributed worker that froze past its lease must not overwrite the files of the worker that took
        # its trial over; the chief ignores its report anyway (see search/_distributed.py).
        holds_lease = getattr(self.oracle, "holds_lease", None)
        if holds_lease is not None and not holds_lease(trial.trial_id):
            raise keras_tuner.errors.FailedTrialError(
                f"trial {trial.trial_id}: this worker's lease lapsed (silent longer than the lease), so the trial "
                "went to another worker; this worker's result is dropped")

    def _try_build(self, hp):
        # Keras Tuner clears the Keras session and runs a full garbage collection before every build (about
        # 2.5 s a trial). Clearing without the collection takes milliseconds and is what keeps memory flat:
        # Keras' global state grows by about 1.4 MB a trial otherwise; fit_model's compiled epochs survive it.
        self._builds = getattr(self, "_builds", 0) + 1
        clear_keras_state(kernels=self._builds % KERNEL_CACHE_TRIALS == 0)
        return self._build_hypermodel(hp)

    def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
        # Keras Tuner names a trial's HParams session by its trial id alone, so trial N of two searches merge
        # into one row; the session here is named by search and trial (see search/_tensorboard.py).
        hypermodel = self.hypermodel
        hparams = search_hparams(hypermodel.space, hypermodel.loss)
        for callback in [c for c in callbacks if isinstance(c, keras.callbacks.TensorBoard)]:
            callbacks.extend(trial_callbacks(callback, Path(callback.log_dir) / trial.trial_id,
                                             session_name(self.project_name, trial.trial_id), hparams,
                                             hypermodel.active_values(trial.hyperparameters)))


KERNEL_CACHE_TRIALS = 10
"""A search empties TensorFlow's kernel cache every this many trials (see :func:`clear_keras_state`)."""


def clear_keras_state(kernels=False):
    """``keras.backend.clear_session(free_memory=False)``, keeping TensorFlow's kernel cache unless ``kernels``.

    Clearing Keras' global state (layer names, the functional API's bookkeeping) keeps a search's memory
    flat. clear_session also empties the eager kernel cache, which holds the instantiated (graph-optimised)
    compiled epochs of fit_model: emptied before every trial, each trial pays that optimisation again in its
    first epoch (seconds on a loaded machine, as long as tens of epochs of a small network). Kept, the cache
    grows by about 0.7 MB a trial (a kernel per new variable shape), so a search empties it every
    :data:`KERNEL_CACHE_TRIALS` trials (bench/notes.md).
    """
    from tensorflow.python.eager import context

    if kernels:
        keras.backend.clear_session(free_memory=False)
        return
    eager = context.context()
    eager.clear_kernel_cache = lambda: None  # shadows the method for this call only
    try:
        keras.backend.clear_session(free_memory=False)
    finally:
        del eager.clear_kernel_cache


def run_search(train, validation, run_dir, seed, config, verbose=1, callbacks=(), role=None):
    """Run (or resume) the Bayesian search with one seed until it has ``max_trials`` trials.

    Results live in ``RUN/search-<seed>/`` (Keras Tuner's project directory: running again with the same
    arguments continues an interrupted search and never repeats a finished trial) and TensorBoard logs in
    ``RUN/logs/search-<seed>/<trial>/``, one HParams session per trial with the objective as its metric
    (see ``search/_tensorboard.py``).

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
    tuner = make_tuner(train[0], run_dir, seed, config, role=role)
    write_experiment(run_dir, config.space, settings.loss)
    tensorboard = keras.callbacks.TensorBoard(log_dir=str(Path(run_dir) / LOG_DIR / search_dir_name(seed)),
                                              write_graph=False, profile_batch=0)
    try:
        with quiet_library_warnings():
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


def make_tuner(train_features, run_dir, seed, config, role=None):
    """The CommittorTuner of the search with this seed (a new project, or the one in ``RUN/search-<seed>``).

    Args:
        train_features: training features (the networks' Normalization layer adapts on them).
        run_dir: the run directory.
        seed: the search's seed.
        config: SearchConfig.
        role: None, or the ``Chief`` or ``Worker`` of a distributed search (see :func:`run_search`).

    Returns:
        CommittorTuner, its oracle seeded with :func:`oracle_seed`.
    """
    settings = config.search
    seed_everything(seed)
    hypermodel = CommittorHyperModel(train_features, space=config.space, loss=settings.loss, seed=seed)
    return CommittorTuner(
        hypermodel,
        objective=keras_tuner.Objective(OBJECTIVE, direction="min"),
        max_trials=settings.max_trials,
        num_initial_points=settings.initial_points,
        seed=oracle_seed(seed),
        max_consecutive_failed_trials=settings.max_consecutive_failures,
        oracle_options=None if role is None else role.oracle_options(seed),
        directory=str(run_dir),
        project_name=search_dir_name(seed),
        overwrite=False,
    )


@contextlib.contextmanager
def quiet_library_warnings():
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
