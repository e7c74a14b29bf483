"""Keras Tuner's Bayesian oracle, made to resume exactly, to survive lost workers and to stay cheap as trials
accumulate.

Keras Tuner's ``BayesianOptimizationOracle`` keeps part of its state only in memory: the NumPy random
state that seeds the acquisition step is rebuilt from the seed when a search is reloaded (so the first
Gaussian-process proposal after a resume differs from an uninterrupted run's), the trials come back in
file-system order (the GP is fitted on rows in another order), and its JSON files are written in place (a
kill during a write leaves a file that cannot be reloaded). :class:`CommittorOracle` makes every proposal a
function of the search seed, the trial number and the trials finished before it, and writes its files
atomically, so a search killed at any moment and resumed proposes what an uninterrupted search proposes.

Its acquisition step minimises Keras Tuner's bound on vectorised random candidates rather than with
L-BFGS-B restarts, which costs seconds of CPU per trial once a search has a few dozen trials.

For distributed searches (see ``committor_keras.search._distributed``) it also hands the trial of a worker
that stopped sending heartbeats to the next worker that asks, so a killed worker does not stall the search.
"""

import collections
import os
import secrets
import threading
import time
from pathlib import Path

import numpy as np
import threadpoolctl
from keras_tuner.oracles import BayesianOptimizationOracle
from keras_tuner.src.engine import metrics_tracking
from keras_tuner.src.engine import trial as trial_module
from keras_tuner.src.engine.oracle import synchronized

from committor_keras._provenance import write_json_atomic

TRIAL_FILE = "trial.json"
# A worker reports every HEARTBEAT_S seconds while it trains; one silent for LEASE_S is taken for dead.
HEARTBEAT_S = 2.0
LEASE_S = float(os.environ.get("COMMITTOR_KERAS_WORKER_LEASE_S", 30.0))
_RANDOM_STREAM, _GP_STREAM = 1, 2
# Keras Tuner pads trial ids to the width of max_trials, so a search resumed with more trials named its trials
# otherwise than a straight one ("0".."2", "03".."11" against "00".."11"): ids here have one width per search.
TRIAL_ID_WIDTH = 2
FINISHED = (trial_module.TrialStatus.COMPLETED, trial_module.TrialStatus.FAILED)


def format_trial_id(number, width=TRIAL_ID_WIDTH):
    """The id of trial ``number``: zero-padded to ``width`` digits (wider only past ``10**width - 1``)."""
    return f"{int(number):0{width}d}"


def trial_number(trial_id):
    """The number of a trial id, whatever its width: sort and compare trials by this, never by the id text."""
    return int(trial_id)


def proposal_seed(seed, stream, number):
    """A seed in [0, 2**31 - 1) for one proposal: fixed by the search seed, a stream and the trial number."""
    return int(np.random.SeedSequence([int(seed), stream, int(number)]).generate_state(1)[0] % (2**31 - 1))


class CommittorOracle(BayesianOptimizationOracle):
    """``BayesianOptimizationOracle`` with the same model and criterion, found faster, whose proposals do not
    depend on interruptions.

    Acquisition: the Gaussian process (Matern 5/2 kernel, normalised scores) and the lower confidence bound
    ``mu - beta * sigma`` it minimises are Keras Tuner's. Keras Tuner minimises the bound from 50 random
    starts with L-BFGS-B on finite differences, one ``predict`` of a single point per evaluation (thousands
    per trial), and refits the kernel from 21 starts: 2-9 CPU-s per trial after a few dozen trials. This
    oracle evaluates the bound on ``candidates`` uniform random points in one vectorised ``predict``, then on
    as many points scattered (normal, ``local_scale`` wide) around the best ``local_starts`` of them, and
    refits the kernel from ``1 + kernel_restarts`` starts.

    Exact resume and distributed searches:

    - the random draws of trial ``n`` (random phase: Keras Tuner's ``_seed_state``; Gaussian-process phase:
      the candidate points) are seeded by ``(seed, n)`` (:func:`proposal_seed`), not by a stream that
      advances with every proposal and restarts on reload (the kernel fit is seeded by ``seed`` alone);
    - trials are kept in trial-number order, also after a reload, so the GP sees the same rows in the same
      order; trial ids are two digits from the start (``"00"``, ..., ``"99"``, ``"100"``) whatever
      ``max_trials`` is, so a search resumed with more trials names them as a straight search does (a search
      made with Keras Tuner's ids keeps the width of its first trial), and everything orders trials by
      :func:`trial_number`, never by the id text;
    - ``oracle.json`` and ``trial.json`` are written atomically, and a reload repairs the state a kill between
      two writes leaves (a trial finished on disk but not in ``oracle.json`` counts as finished; one created
      on disk but not in ``oracle.json`` is rerun; an interrupted trial is rerun with its partial metrics
      dropped);
    - in a distributed search, a worker's tuner id names the search it belongs to
      (``<worker>@search-<seed>``): a worker still asking for an earlier search is told that one has stopped
      (so it moves on), one already asking for a later search is told to wait (IDLE); the trial of a worker
      silent for ``LEASE_S`` seconds goes to the next worker that asks; a worker reports its trial with the
      lease token it got with it (:meth:`lease_trial`), and the report of a lease that lapsed (the trial
      was requeued, handed on or ended since) is ignored, so a trial counts one result however long a
      worker froze; and a worker that asks for work when
      the budget is spent while other workers still train is told to wait rather than to stop, so it can
      take over a trial whose worker died.

    Args:
        candidates: random points per round (two rounds: global, then local).
        local_starts: best global points the local round scatters around.
        local_scale: standard deviation of the local round, in the unit cube of the hyperparameters.
        kernel_restarts: extra random starts of the kernel's length-scale fit.
        search_tag: ``search-<seed>``, the suffix of the tuner ids this oracle serves (distributed searches).
        search_order: the tags of all the run's searches, in the order they are served.
        **kwargs: the arguments of ``BayesianOptimizationOracle``.
    """

    def __init__(self, candidates=2000, local_starts=10, local_scale=0.05, kernel_restarts=2, search_tag=None,
                 search_order=(), **kwargs):
        self.candidates = candidates
        self.local_starts = local_starts
        self.local_scale = local_scale
        self.kernel_restarts = kernel_restarts
        super().__init__(**kwargs)
        self.search_tag = search_tag
        self.search_order = list(search_order)
        self._heartbeats = {}
        self._heartbeat_lock = threading.Lock()
        # trial id -> the token of the one lease that may report it (see lease_trial); never saved: a reloaded
        # chief has sent every running trial back to the queue, so no earlier lease is honoured.
        self._leases = {}

    # --- fast acquisition, seeded per trial ---------------------------------------------------------------
    def _make_gpr(self):
        gpr = super()._make_gpr()
        gpr.n_restarts_optimizer = self.kernel_restarts
        return gpr

    def populate_space(self, trial_id):
        """Random values for the first ``num_initial_points`` trials, then the minimum of the bound."""
        number = trial_number(trial_id)
        self._seed_state = proposal_seed(self.seed, _RANDOM_STREAM, number)
        self._random_state = np.random.RandomState(proposal_seed(self.seed, _GP_STREAM, number))
        # The matrices are at most trials x candidates: one BLAS thread is fastest, and threads spinning on
        # a busy machine (a parallel search, TensorFlow) cost 10-100 times more CPU than the work.
        with threadpoolctl.threadpool_limits(1):
            return self._populate_space(trial_id)

    def _populate_space(self, trial_id):
        completed = [t for t in self.trials.values() if t.status == trial_module.TrialStatus.COMPLETED]
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
        return {"status": trial_module.TrialStatus.RUNNING,
                "values": self._vector_to_values(points[np.argmin(values)])}

    # --- exact resume -------------------------------------------------------------------------------------
    def reload(self):
        super().reload()
        self.trials = dict(sorted(self.trials.items(), key=lambda item: trial_number(item[0])))
        finished = [trial_id for trial_id, trial in self.trials.items() if trial.status in FINISHED]
        self._retry_queue = [trial_id for trial_id in self._retry_queue if trial_id not in finished]
        self.end_order += [trial_id for trial_id in finished if trial_id not in self.end_order]
        self.start_order += [trial_id for trial_id in self.trials if trial_id not in self.start_order]
        # Created on disk but killed before oracle.json recorded it as running: rerun it too.
        self._retry_queue += [trial_id for trial_id, trial in self.trials.items()
                              if trial.status not in FINISHED and trial_id not in self._retry_queue]
        for trial_id in self._retry_queue:
            # A trial killed after reporting its metrics but before ending would otherwise keep them.
            self.trials[trial_id].metrics = metrics_tracking.MetricsTracker()
        # The retry queue is served from its end: rerun the lowest trial number first.
        self._retry_queue.sort(key=trial_number, reverse=True)
        self._tried_so_far = set()
        self._id_to_hash = collections.defaultdict(lambda: None)
        for trial in self.trials.values():
            self._record_values(trial)

    def save(self):
        write_json_atomic(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        write_json_atomic(Path(self._get_trial_dir(trial.trial_id)) / TRIAL_FILE, trial.get_state())

    # --- trial ids ----------------------------------------------------------------------------------------
    def _new_trial(self, tuner_id):
        """Keras Tuner 1.4's ``create_trial``, the id made by :func:`format_trial_id`, not max_trials' width."""
        if (tuner_id in self.ongoing_trials or self._retry_queue
                or (self.max_trials and len(self.trials) >= self.max_trials)):
            return super().create_trial(tuner_id)
        self.tuner_ids.add(tuner_id)
        # A search made before ids had one width keeps the width of its first trial.
        first = next(iter(self.trials), None)
        new_id = format_trial_id(len(self.trials), TRIAL_ID_WIDTH if first is None else len(first))
        response = self.populate_space(new_id)
        hyperparameters = self.hyperparameters.copy()
        hyperparameters.values = response.get("values") or {}
        trial = trial_module.Trial(hyperparameters=hyperparameters, trial_id=new_id, status=response["status"])
        if trial.status == trial_module.TrialStatus.RUNNING:
            self._record_values(trial)
            self.ongoing_trials[tuner_id] = trial
            self.trials[new_id] = trial
            self.start_order.append(new_id)
            self._save_trial(trial)
            self.save()
            self._display.on_trial_begin(trial)
        elif trial.status == trial_module.TrialStatus.STOPPED:
            self.tuner_ids.remove(tuner_id)
        return trial

    # --- distributed workers ------------------------------------------------------------------------------
    @synchronized
    def create_trial(self, tuner_id):
        if self.search_tag is None:
            return self._new_trial(tuner_id)
        if not self.serves(tuner_id):
            # A worker behind (its search has ended without it) moves on; one ahead waits for its search.
            tag = str(tuner_id).rpartition("@")[2]
            behind = tag in self.search_order and self.search_order.index(tag) < self._position()
            status = trial_module.TrialStatus.STOPPED if behind else trial_module.TrialStatus.IDLE
            return trial_module.Trial(self.hyperparameters.copy(), status=status)
        self._heartbeat(tuner_id)
        self._requeue_lost_trials()
        if (self.max_trials and len(self.trials) >= self.max_trials and not self._retry_queue
                and tuner_id not in self.ongoing_trials
                and any(other != tuner_id for other in self.ongoing_trials)):
            return trial_module.Trial(self.hyperparameters.copy(), status=trial_module.TrialStatus.IDLE)
        return self._new_trial(tuner_id)

    def serves(self, tuner_id):
        """Whether ``tuner_id`` belongs to this search (always, outside distributed searches)."""
        return self.search_tag is None or str(tuner_id).endswith("@" + self.search_tag)

    def _position(self):
        return self.search_order.index(self.search_tag) if self.search_tag in self.search_order else 0

    @synchronized
    def lease_trial(self, tuner_id):
        """``create_trial`` for a remote worker: ``(trial, token)``, the token (None unless the trial is RUNNING)
        being the lease the worker reports the trial with. Each hand-over of a trial, also back to a restarted
        worker of the same name, makes a new token and voids the one before."""
        trial = self.create_trial(tuner_id)
        if trial.status != trial_module.TrialStatus.RUNNING:
            return trial, None
        self._leases[trial.trial_id] = token = secrets.token_hex(16)
        return trial, token

    def is_live_lease(self, trial_id, token):
        """Whether ``token`` is the live lease of the trial (not requeued, handed on or ended since)."""
        return token is not None and self._leases.get(trial_id) == token

    @synchronized
    def update_leased_trial(self, token, trial_id, metrics, step=0):
        """``update_trial`` from the lease holder; a lapsed lease's report is ignored. Returns the trial."""
        if not self._check_lease(trial_id, token, "metrics"):
            return self.trials[trial_id]
        return self.update_trial(trial_id, metrics, step=step)

    @synchronized
    def end_leased_trial(self, token, trial):
        """``end_trial`` from the lease holder; a lapsed lease's report is ignored. Returns whether it counted."""
        if not self._check_lease(trial.trial_id, token, "end"):
            return False
        del self._leases[trial.trial_id]
        self.end_trial(trial)
        return True

    @synchronized
    def beat(self, trial_id, token):
        """A worker's heartbeat on its trial (see _distributed.WorkerClient): counts for the live lease only,
        so a worker that lost its lease cannot keep the lease of the worker now holding the trial alive."""
        if self.is_live_lease(trial_id, token):
            for tuner_id, trial in list(self.ongoing_trials.items()):
                if trial.trial_id == trial_id:
                    self._heartbeat(tuner_id)
        return self.is_live_lease(trial_id, token)

    def _check_lease(self, trial_id, token, what):
        if self.is_live_lease(trial_id, token):
            return True
        state = "has ended" if self.trials[trial_id].status in FINISHED else "went to another worker"
        print(f"trial {trial_id}: a report ({what}) on a lapsed lease is ignored: the trial {state}")
        return False

    def _heartbeat(self, tuner_id):
        with self._heartbeat_lock:
            self._heartbeats[tuner_id] = time.monotonic()

    def _requeue_lost_trials(self):
        now = time.monotonic()
        for tuner_id, trial in list(self.ongoing_trials.items()):
            last = self._heartbeats.setdefault(tuner_id, now)
            if now - last > LEASE_S:
                print(f"worker {tuner_id} silent for {now - last:.0f} s: trial {trial.trial_id} goes to another worker")
                del self.ongoing_trials[tuner_id]
                self.tuner_ids.discard(tuner_id)
                trial.metrics = metrics_tracking.MetricsTracker()
                trial.status = trial_module.TrialStatus.RUNNING
                self._leases.pop(trial.trial_id, None)
                self._retry_queue.append(trial.trial_id)
