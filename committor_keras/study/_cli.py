"""The `tune` and `study` commands: seeded Bayesian searches over committor networks, then top-k retraining
(`tune`), or the whole study with repeats, cross-validation, ensemble, baselines, explanations and a report."""

import argparse


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 1")
    return value


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 0")
    return value


def register(subparsers):
    """Add `tune` and `study` to the command line."""
    _register_tune(subparsers)
    _register_study(subparsers)


def _register_tune(subparsers):
    parser = subparsers.add_parser(
        "tune", help="tune committor networks with Keras Tuner and export the best k",
        description="Split DATA (seeded, stratified over p_B), run several seeded Bayesian searches over "
                    "the network's hyperparameters (objective: validation KL per shot), write every trial to "
                    "OUT/trials.csv, then retrain and export the best k models to OUT/top/. Running the same "
                    "command again resumes an interrupted run exactly; a larger --max-trials adds trials, a "
                    "larger --top-k exports more models; other epochs, patience, loss, space or seed are "
                    "refused unless --overwrite.",
        epilog="example: committor-keras tune data/alanine_dipeptide_vacuum/alanine_dipeptide_vacuum.npz "
               "--out runs/ala --config configs/demo.toml --seed 0\n"
               "see configs/default.toml for every setting; TensorBoard: tensorboard --logdir OUT/logs",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="committor data set (.npz or .csv)")
    parser.add_argument("--out", required=True, help="run directory (created; an existing one is resumed)")
    parser.add_argument("--config", help="search TOML file (default: the built-in defaults, as in "
                                         "configs/default.toml)")
    parser.add_argument("--max-trials", type=_positive_int, help="trials per search")
    parser.add_argument("--searches", type=_positive_int, help="number of independent searches")
    parser.add_argument("--top-k", type=_positive_int, help="models to retrain and export")
    parser.add_argument("--epochs", type=_positive_int, help="maximum epochs per trial")
    parser.add_argument("--patience", type=_positive_int, help="early-stopping patience (epochs)")
    parser.add_argument("--seed", type=_seed, default=0, help="seed of the split and the searches (default 0)")
    parser.add_argument("--jobs", type=_positive_int, default=1,
                        help="searches run at once in separate processes (default 1; the results do not "
                             "depend on it; 2 uses both cores of a 2-core machine)")
    parser.add_argument("--overwrite", action="store_true",
                        help="start afresh in an OUT made with other settings (deletes its results)")
    parser.add_argument("--quiet", action="store_true", help="print only the final table")
    group = parser.add_argument_group(
        "distributed search (Keras Tuner's chief/worker over gRPC; OUT on a file system all share)")
    group.add_argument("--chief", action="store_true",
                       help="serve the searches to workers and run no trial here; then retrain the top k")
    group.add_argument("--bind", metavar="ADDRESS:PORT", default=None,
                       help="where the chief listens (default 127.0.0.1:8000; the port is unauthenticated: "
                            "bind another address only on a trusted network)")
    group.add_argument("--worker", action="store_true",
                       help="run trials for the chief at --chief-address; settings come from OUT/run.json")
    group.add_argument("--chief-address", metavar="ADDRESS:PORT", help="the chief's --bind (for --worker)")
    group.add_argument("--timeout", type=float, default=None,
                       help="seconds a worker waits for the chief before giving up (default 60)")
    parser.set_defaults(func=_tune)


def _roles(args):
    """The Chief or Worker the flags ask for (checked before anything loads), or ``(None, None)``."""
    from committor_keras._errors import ConfigError
    from committor_keras.search._distributed import DEFAULT_BIND, DEFAULT_TIMEOUT_S, Chief, Worker

    if args.chief and args.worker:
        raise ConfigError("--chief and --worker: a process is one or the other; start them separately")
    if (args.chief or args.worker) and args.jobs > 1:
        raise ConfigError(f"--jobs {args.jobs}: a distributed search runs its trials on the workers; start more "
                          "workers instead of --jobs")
    if args.worker:
        if not args.chief_address:
            raise ConfigError("--worker needs --chief-address ADDRESS:PORT (the chief's --bind)")
        return None, Worker(args.chief_address, timeout=DEFAULT_TIMEOUT_S if args.timeout is None else args.timeout)
    if args.chief_address or args.timeout is not None:
        raise ConfigError("--chief-address and --timeout are for --worker; add --worker")
    if args.bind and not args.chief:
        raise ConfigError("--bind is for --chief; add --chief")
    return (Chief(args.bind or DEFAULT_BIND) if args.chief else None), None


def _tune(args):
    from committor_keras.data import load

    chief, worker = _roles(args)
    # Before TensorFlow loads: a bad file or setting is reported at once, without TF's start-up.
    data = load(args.data)
    if worker is not None:
        from committor_keras.search._distributed import work

        work(data, args.out, worker, verbose=0 if args.quiet else 1)
        return 0
    from committor_keras.search._config import load_config

    config = load_config(args.config).with_overrides(max_trials=args.max_trials, searches=args.searches,
                                                     top_k=args.top_k, epochs=args.epochs, patience=args.patience)
    from committor_keras.study._tune import tune

    result = tune(data, args.out, config=config, seed=args.seed, verbose=0 if args.quiet else 1, jobs=args.jobs,
                  overwrite=args.overwrite, chief=chief)
    if args.quiet:
        print(result.summary.to_string(index=False))
    return 0


def _register_study(subparsers):
    parser = subparsers.add_parser(
        "study", help="a whole study: searches, repeats, cross-validation, ensemble, baselines, XAI, report",
        description="Run independent seeded Bayesian searches on DATA, retrain the best candidates with "
                    "several seeds, cross-validate the final ones, build and export their ensemble, compare "
                    "with logistic baselines and the noise floor, explain the models (raw and grouped by "
                    "central bond), validate them, and write OUT/report.md with figures. Every stage is "
                    "saved when it ends: running the same command again resumes an interrupted study.",
        epilog="example: committor-keras study data/alanine_dipeptide_vacuum/alanine_dipeptide_vacuum.npz "
               "--out studies/vacuum --config configs/study.toml --seed 0\n"
               "DATA may also be a whitespace n_A n_B features... text table or a directory holding one "
               "(e.g. shared/external/methane_clathrate); see docs/study.md",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="committor data set (.npz, .csv, a shot-count text table or its directory)")
    parser.add_argument("--out", required=True, help="study directory (created; an existing one is resumed)")
    parser.add_argument("--config", help="study TOML file: [study], [search] and [space] tables (default: the "
                                         "built-in defaults, as in configs/study.toml)")
    parser.add_argument("--seed", type=_seed, default=0, help="seed of the split, folds, searches and trainings "
                                                              "(default 0)")
    parser.add_argument("--quiet", action="store_true", help="print only the report's path")
    parser.set_defaults(func=_study)


def _study(args):
    from committor_keras.study._config import load_study_config
    from committor_keras.study._data import load_study_data

    config = load_study_config(args.config)  # before TensorFlow loads: bad files are reported at once
    data = load_study_data(args.data)
    from committor_keras.study._study import run_study

    result = run_study(data, args.out, config=config, seed=args.seed, verbose=0 if args.quiet else 1)
    print(result.report)
    return 0
