"""TensorBoard logs of a run, laid out for the HParams dashboard.

``RUN/logs/`` holds one experiment summary (written once, at the root: every hyperparameter with its domain
from the search space, and the objective as the metric), one session per trial under
``search-<seed>/<trial_id>/`` named ``search-<seed>/trial-<trial_id>`` (unique across searches, so trials of
different searches never merge into one row), and the top-k retraining under ``top/NN/``. The metric
``best_val_kl_per_shot`` is the running minimum of the validation KL per shot, so its last value is the best
epoch's, the objective of ``trials.csv``.
"""

import shutil
from pathlib import Path

LOG_DIR = "logs"
OBJECTIVE_TAG = "best_val_kl_per_shot"
_MONITOR = "val_kl_per_shot"


def session_name(project_name, trial_id):
    """The HParams session (group) name of a trial: ``search-<seed>/trial-<id>``."""
    return f"{project_name}/trial-{trial_id}"


def search_hparams(space, loss):
    """TensorBoard ``HParam`` objects for every hyperparameter of the space, domains from the space itself.

    Args:
        space: the SearchSpace.
        loss: the loss (a fixed hyperparameter of every trial).

    Returns:
        dict name -> ``tensorboard.plugins.hparams.api.HParam``; conditional widths (``units_1``, ...) included.
    """
    import keras_tuner
    from keras_tuner.src.engine import tuner_utils
    from tensorboard.plugins.hparams import api as hparams_api

    hp = keras_tuner.HyperParameters()
    # With the most layers every conditional width is active, so each gets its domain.
    hp.values["hidden_layers"] = max(space.layer_counts())
    space.declare(hp)
    hp.Fixed("loss", loss)
    # Keras Tuner's own conversion (Int -> IntInterval, Float -> RealInterval, Choice -> Discrete) on the
    # declared space, so the domains are the configured ranges rather than the values trials happened to draw.
    return {key.name: key for key in tuner_utils.convert_hyperparams_to_hparams(hp, hparams_api)}


def write_experiment(run_dir, space, loss):
    """Write the HParams experiment summary at the root of ``RUN/logs`` (once; a resumed run keeps it)."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hparams_api

    root = Path(run_dir) / LOG_DIR
    if any(root.glob("events.out.tfevents.*")):
        return
    metric = hparams_api.Metric(OBJECTIVE_TAG, display_name="objective: best-epoch validation KL per shot")
    with tf.summary.create_file_writer(str(root)).as_default():
        hparams_api.hparams_config(hparams=list(search_hparams(space, loss).values()), metrics=[metric])


def trial_callbacks(tensorboard, log_dir, session, hparams, values):
    """Point a TensorBoard callback at a trial's directory and add its HParams session and objective.

    Args:
        tensorboard: the search's ``keras.callbacks.TensorBoard`` (its ``log_dir`` is set to ``log_dir``).
        log_dir: the trial's log directory.
        session: the session name (:func:`session_name`).
        hparams: from :func:`search_hparams`.
        values: the trial's active hyperparameter values.

    Returns:
        list of callbacks to append: the HParams session writer and the objective summary.
    """
    from tensorboard.plugins.hparams import api as hparams_api

    tensorboard.log_dir = str(log_dir)
    session_values = {hparams[name]: value for name, value in values.items() if name in hparams}
    return [hparams_api.KerasCallback(str(log_dir), session_values, trial_id=session), _objective_summary(log_dir)]


def top_k_tensorboard(run_dir, name):
    """A TensorBoard callback for retrained model ``name`` writing to ``RUN/logs/top/<name>`` (emptied first,
    so a rerun's curves are not drawn over an earlier run's)."""
    import keras

    log_dir = Path(run_dir) / LOG_DIR / "top" / name
    shutil.rmtree(log_dir, ignore_errors=True)
    return keras.callbacks.TensorBoard(log_dir=str(log_dir), write_graph=False, profile_batch=0)


def _objective_summary(log_dir):
    import keras
    import tensorflow as tf

    class ObjectiveSummary(keras.callbacks.Callback):
        """Writes the running minimum of the validation KL per shot: its last value is the objective."""

        reads_weights = False  # fit_model need not hand it each epoch's weights

        def __init__(self):
            super().__init__()
            self.best = float("inf")
            self.writer = None

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(_MONITOR)
            if value is None:
                return
            self.best = min(self.best, float(value))
            if self.writer is None:
                self.writer = tf.summary.create_file_writer(str(log_dir))
            with self.writer.as_default():
                tf.summary.scalar(OBJECTIVE_TAG, self.best, step=epoch)
            self.writer.flush()

        def on_train_end(self, logs=None):
            if self.writer is not None:
                self.writer.close()

    return ObjectiveSummary()
