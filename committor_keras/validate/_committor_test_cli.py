"""The `committor-test` command (committor_keras.validate._committor_test)."""


def register(subparsers):
    """Add `committor-test` to the command line."""
    parser = subparsers.add_parser(
        "committor-test", help="Peters' committor test: shoot new configurations the model puts at q = 0.5",
        description="Sample new configurations with the restrained windows of the md work directory WORKDIR "
                    "(fresh seeds, not the training data), keep those whose predicted committor lies in "
                    "[0.45, 0.55] until N are found, shoot each SHOTS times with the package's engine and write "
                    "the p_B histogram (OUT/committor_test.png) and its mean, standard deviation and the "
                    "standard deviation binomial noise alone gives (OUT/committor_test.json). Resumable: "
                    "run the same command again to continue. Needs the md extra.",
        epilog="example: committor-keras committor-test runs/ala2/top/01 --md data/alanine_dipeptide_vacuum "
               "--out results/committor_test")
    parser.add_argument("model", help="model directory (top/NN with card.json), .keras file or SavedModel")
    parser.add_argument("--md", required=True, metavar="WORKDIR",
                        help="md work directory of the model's data (md.json recipe + system.pdb)")
    parser.add_argument("--n", type=int, default=100, help="configurations to shoot (default 100)")
    parser.add_argument("--shots", type=int, default=50, help="shots per configuration (default 50)")
    parser.add_argument("--out", default="committor_test", help="output directory (default committor_test)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the test's sampling and shots (default 0)")
    parser.add_argument("--band", type=float, nargs=2, default=(0.45, 0.55), metavar=("LOW", "HIGH"),
                        help="predicted-q band a configuration must fall in (default 0.45 0.55)")
    parser.add_argument("--per-window", type=int, default=50,
                        help="configurations sampled per restrained window per round (default 50)")
    parser.add_argument("--max-rounds", type=int, default=20, help="sampling rounds before giving up (default 20)")
    parser.add_argument("--workers", type=int, default=1, help="sampling/shooting processes (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="CPU-platform threads per process (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=_committor_test)


def _committor_test(args):
    from committor_keras.validate._committor_test import committor_test

    committor_test(args.model, args.md, args.out, n=args.n, shots=args.shots, seed=args.seed,
                   q_range=tuple(args.band), per_window=args.per_window, max_rounds=args.max_rounds,
                   workers=args.workers, threads=args.threads, progress=not args.no_progress)
    return 0
