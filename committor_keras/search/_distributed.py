"""Distributed searches on Keras Tuner's own chief/worker engine (gRPC).

The chief (``tune --chief``) prepares the run directory (split, ``run.json``) and serves each search's oracle
in turn on one gRPC port; workers (``tune --worker --chief-address ADDRESS:PORT``) take every setting from
``RUN/run.json``, ask the chief for trials, train them and report back. Keras Tuner's own client and servicer
carry the calls (``KERASTUNER_TUNER_ID`` / ``KERASTUNER_ORACLE_IP`` / ``KERASTUNER_ORACLE_PORT`` are set for
the workers' tuners); this module adds what a long run on a cluster needs:

- a worker sends a heartbeat (a ``GetTrial`` call) every few seconds while it trains, and the chief hands
  the trial of a worker silent for ``LEASE_S`` to the next worker that asks (see CommittorOracle);
- each trial handed out carries a lease token (gRPC metadata ``LEASE_KEY``, outside Keras Tuner's messages);
  the worker sends it with its heartbeats and reports, and the chief ignores a report whose lease lapsed, so a
  worker that froze past its lease (SIGSTOP, swap) and wakes up cannot report a trial another worker took
  over or finished; before writing the trial's files it checks its lease and drops the trial if it lost it;
- a worker without a chief gives up after ``timeout`` seconds (Keras Tuner waits an hour);
- the chief listens on 127.0.0.1 unless told another address. The port is unauthenticated and
  unencrypted: anyone who can reach it can read the search and submit results.

The run directory must be on a file system that the chief and all workers share (trial histories and
checkpoints are written by the workers, trial records by the chief).
"""

import contextlib
import json
import os
import socket
import threading
import time
from pathlib import Path

from committor_keras._errors import CommittorKerasError, ConfigError

DEFAULT_BIND = "127.0.0.1:8000"
DEFAULT_TIMEOUT_S = 60.0
LEASE_KEY = "committor-lease"
_HELD_KEY = "committor-lease-held"
_IDLE_WAIT_S = 1.0
_POLL_S = 0.5


def parse_address(text, flag):
    """``(host, port)`` from ``ADDRESS:PORT`` (IPv6 in brackets: ``[::1]:8000``), or a one-line ConfigError."""
    host, sep, port = str(text).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{flag} {text!r}: give ADDRESS:PORT, e.g. {flag} {DEFAULT_BIND}")
    return host.strip("[]"), int(port)


def free_port(host="127.0.0.1"):
    """A TCP port free on ``host`` now (for tests and single-machine runs)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class Chief:
    """The chief's part of a distributed search: serve each search's oracle until all its trials end.

    Args:
        bind: ``ADDRESS:PORT`` to listen on (default ``127.0.0.1:8000``).
    """

    def __init__(self, bind=DEFAULT_BIND):
        self.host, self.port = parse_address(bind, "--bind")
        self.bind = f"{self.host}:{self.port}" if ":" not in self.host else f"[{self.host}]:{self.port}"
        self.search_seeds = []

    def oracle_options(self, seed):
        """What the oracle of search ``seed`` needs to tell its workers from those of other searches."""
        from committor_keras.search._tuner import search_dir_name

        return {"search_tag": search_dir_name(seed), "search_order": [search_dir_name(s) for s in self.search_seeds]}

    @contextlib.contextmanager
    def environment(self, seed):
        """Nothing to set: the chief's tuner runs no trials, it only lends its oracle to the server."""
        yield

    def search_function(self, tuner):
        """What runs in place of ``tuner.search`` on the chief: the gRPC server of this search."""
        def serve(**_):
            tuner.save()
            if _finished(tuner.oracle):
                return  # resumed after this search ended: workers still on it are stopped by the next one
            serve_oracle(tuner.oracle, self.bind)

        return serve


def _finished(oracle):
    from committor_keras.search._oracle import FINISHED

    return (bool(oracle.max_trials) and len(oracle.trials) >= oracle.max_trials and not oracle._retry_queue
            and all(trial.status in FINISHED for trial in oracle.trials.values()))


def serve_oracle(oracle, bind):
    """Serve ``oracle`` over gRPC on ``bind`` until the search has ended and every worker has been told so.

    Raises:
        ConfigError: the address cannot be bound (in use, or not an address of this machine).
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer, exit_chief
    from keras_tuner.src.engine import trial as trial_module

    def lease(context):
        return dict(context.invocation_metadata()).get(LEASE_KEY)

    class Servicer(OracleServicer):
        def CreateTrial(self, request, context):
            # Keras Tuner's servicer ends the search at the first STOPPED; one sent to a worker of an earlier
            # search (so that it moves on) must not end this one.
            trial, token = self.oracle.lease_trial(request.tuner_id)
            if token is not None:
                context.set_trailing_metadata(((LEASE_KEY, token),))
            if trial.status == trial_module.TrialStatus.STOPPED and self.oracle.serves(request.tuner_id):
                self.stop_triggered = True
            return protos.get_service().CreateTrialResponse(trial=trial.to_proto())

        def UpdateTrial(self, request, context):
            trial = self.oracle.update_leased_trial(lease(context), request.trial_id, request.metrics,
                                                    step=request.step)
            return protos.get_service().UpdateTrialResponse(trial=trial.to_proto())

        def EndTrial(self, request, context):
            self.oracle.end_leased_trial(lease(context), trial_module.Trial.from_proto(request.trial))
            return protos.get_service().EndTrialResponse()

        def GetTrial(self, request, context):
            held = self.oracle.beat(request.trial_id, lease(context))
            context.set_trailing_metadata(((_HELD_KEY, "1" if held else "0"),))
            return super().GetTrial(request, context)

    # Several threads: heartbeats must not queue behind a Gaussian-process fit (the oracle locks itself).
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    servicer = Servicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        port = server.add_insecure_port(bind)
    except RuntimeError:
        port = 0
    if not port:
        raise ConfigError(f"--bind {bind}: cannot listen there (the port is in use or the address is not one "
                          "of this machine's); choose another --bind")
    server.start()
    try:
        while not (servicer.stop_triggered and exit_chief(oracle)):
            time.sleep(_POLL_S)
    finally:
        server.stop(grace=5).wait()


class Worker:
    """A worker's part of a distributed search: trials come from the chief, results go back to it.

    Args:
        chief_address: the chief's ``ADDRESS:PORT``.
        worker_id: this worker's name (default ``$KERASTUNER_TUNER_ID``, else ``worker-<host>-<pid>``); a
            restarted worker with the same name gets its unfinished trial back.
        timeout: seconds to wait for the chief (each call) before giving up.
    """

    def __init__(self, chief_address, worker_id=None, timeout=DEFAULT_TIMEOUT_S):
        self.host, self.port = parse_address(chief_address, "--chief-address")
        self.address = chief_address
        self.worker_id = worker_id or os.environ.get("KERASTUNER_TUNER_ID") or \
            f"worker-{socket.gethostname()}-{os.getpid()}"
        if not timeout > 0:
            raise ConfigError(f"--timeout {timeout}: give a number of seconds > 0")
        self.timeout = float(timeout)

    def oracle_options(self, seed):
        """Nothing: a worker's own oracle is never asked (Keras Tuner's client stands in for it)."""
        return {}

    @contextlib.contextmanager
    def environment(self, seed):
        """Keras Tuner's variables for the tuner of search ``seed`` (its tuner id names the search)."""
        from committor_keras.search._tuner import search_dir_name

        values = {"KERASTUNER_TUNER_ID": f"{self.worker_id}@{search_dir_name(seed)}",
                  "KERASTUNER_ORACLE_IP": self.host, "KERASTUNER_ORACLE_PORT": str(self.port)}
        saved = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def search_function(self, tuner):
        """``tuner.search`` with Keras Tuner's client replaced by one with heartbeats and a timeout."""
        import grpc

        tuner.oracle = _worker_client(tuner.oracle._oracle, self.timeout)

        def search(**kwargs):
            try:
                tuner.search(**kwargs)
            except grpc.RpcError as error:
                if error.code() not in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE):
                    raise
                raise CommittorKerasError(
                    f"--chief-address {self.address}: no chief answered within {self.timeout:g} s; start "
                    f"`committor-keras tune DATA --out RUN --chief --bind {self.address}` first, or check the "
                    "address, the port and the firewall") from None

        return search

    def wait_for_run(self, run_dir):
        """The chief's ``run.json`` once it exists (the chief writes it before serving), within the timeout."""
        from committor_keras.search._tune import RUN_JSON, SPLIT_FILE

        path, deadline = Path(run_dir) / RUN_JSON, time.monotonic() + self.timeout
        while not (path.is_file() and (Path(run_dir) / SPLIT_FILE).is_file()):
            if time.monotonic() > deadline:
                raise CommittorKerasError(f"{path}: not written within {self.timeout:g} s; start the chief "
                                          f"(`committor-keras tune DATA --out {run_dir} --chief`) first, with the "
                                          "same --out on a file system the workers share")
            time.sleep(_POLL_S)
        return json.loads(path.read_text())


def _worker_client(oracle, timeout):
    """Keras Tuner's ``OracleClient`` that waits on IDLE, beats while a trial runs and times out sooner."""
    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_client
    from keras_tuner.src.engine import trial as trial_module

    from committor_keras.search._oracle import HEARTBEAT_S

    # Keras Tuner reads this module constant on every call; its default is an hour.
    oracle_client.TIMEOUT = timeout

    class Lease(grpc.UnaryUnaryClientInterceptor):
        """Keeps the lease token of the trial in hand: read from CreateTrial, sent with every later call."""

        def __init__(self):
            self.token = None

        def intercept_unary_unary(self, continuation, details, request):
            if self.token is not None:
                details = details._replace(metadata=[*(details.metadata or ()), (LEASE_KEY, self.token)])
            call = continuation(details, request)
            if details.method.endswith("/CreateTrial"):
                self.token = dict(call.trailing_metadata() or ()).get(LEASE_KEY)
            return call

    class WorkerClient(oracle_client.OracleClient):
        def __init__(self, wrapped):
            super().__init__(wrapped)
            self._beating = None
            self._lease = Lease()
            # Keras Tuner's own stub, on a channel that carries the lease.
            address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
            channel = grpc.insecure_channel(address)
            self.stub = protos.get_service_grpc().OracleStub(grpc.intercept_channel(channel, self._lease))

        def holds_lease(self, trial_id):
            """Whether the chief still counts this worker's report of the trial (asked now)."""
            _, call = self.stub.GetTrial.with_call(protos.get_service().GetTrialRequest(trial_id=trial_id),
                                                   wait_for_ready=True, timeout=oracle_client.TIMEOUT)
            return dict(call.trailing_metadata() or ()).get(_HELD_KEY) == "1"

        def create_trial(self, tuner_id):
            while True:
                trial = super().create_trial(tuner_id)
                if trial.status != trial_module.TrialStatus.IDLE:
                    break
                time.sleep(_IDLE_WAIT_S)  # Keras Tuner's loop would ask again at once
            if trial.status == trial_module.TrialStatus.RUNNING:
                self._start_heartbeat(trial.trial_id)
            return trial

        def end_trial(self, trial):
            self._stop_heartbeat()
            super().end_trial(trial)

        def _start_heartbeat(self, trial_id):
            self._stop_heartbeat()
            stop = threading.Event()

            def beat():
                while not stop.wait(HEARTBEAT_S):
                    with contextlib.suppress(Exception):
                        self.stub.GetTrial(protos.get_service().GetTrialRequest(trial_id=trial_id),
                                           timeout=HEARTBEAT_S)

            thread = threading.Thread(target=beat, name=f"heartbeat-{trial_id}", daemon=True)
            thread.start()
            self._beating = (stop, thread)

        def _stop_heartbeat(self):
            if self._beating is not None:
                self._beating[0].set()
                self._beating = None

    return WorkerClient(oracle)


def work(data, out_dir, worker, verbose=1, callbacks=()):
    """Run a worker: every search of the run in ``out_dir``, with trials from the chief, until all end.

    Args:
        data: the run's data (CommittorData or path); its content must match ``run.json``.
        out_dir: the run directory the chief prepares (shared file system).
        worker: a :class:`Worker`.
        verbose: as for :func:`committor_keras.study.tune`.
        callbacks: extra Keras callbacks for every trial.

    Raises:
        CommittorKerasError: no chief within the timeout, or data other than the run's.
    """
    from committor_keras.data import CommittorData, Split, load
    from committor_keras.search._config import SearchConfig
    from committor_keras.search._tune import RUN_JSON, SPLIT_FILE, arrays
    from committor_keras.search._tuner import run_search

    run_dir = Path(out_dir)
    record = worker.wait_for_run(run_dir)
    data = data if isinstance(data, CommittorData) else load(data)
    if data.content_sha256() != record.get("data_sha256"):
        raise ConfigError(f"{run_dir / RUN_JSON}: the chief's run was made from different data; give the worker "
                          "the chief's data file")
    settings = record["config"]
    search = {name: value for name, value in settings["search"].items() if value is not None}
    config = SearchConfig.from_dict({"search": search, "space": settings["space"]}, source=run_dir / RUN_JSON)
    split = Split.load(run_dir / SPLIT_FILE)
    train, validation = arrays(data, split.train), arrays(data, split.validation)
    for seed in settings["search_seeds"]:
        if verbose:
            print(f"worker {worker.worker_id}: search {seed} with the chief at {worker.address}")
        with worker.environment(seed):
            run_search(train, validation, run_dir, seed, config, verbose=verbose, callbacks=callbacks, role=worker)
