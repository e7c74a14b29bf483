"""The `committor-keras` command: a thin layer over the Python API.

User errors (`CommittorKerasError`) print as one line and exit with status 2; heavy libraries are imported
inside the sub-commands, so `--help` answers at once.
"""

import argparse
import importlib
import logging
import os
import sys

from committor_keras._errors import CommittorKerasError

# Sub-packages that contribute sub-commands through a private `_cli.register(subparsers)`.
_COMMAND_MODULES = (
    "committor_keras.data._cli",
    "committor_keras.explain._cli",
    "committor_keras.study._cli",
    "committor_keras.export._cli",
    "committor_keras.md._cli",
    "committor_keras.validate._committor_test_cli",
)


class _OneLineParser(argparse.ArgumentParser):
    """Reports a bad command line in one line (the usage is one ``--help`` away), with exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    """The argument parser with every sub-command registered."""
    parser = _OneLineParser(
        prog="committor-keras",
        description="Learn the committor (and so the reaction coordinate) of a molecular transition with a "
                    "deep network: tune it with Keras Tuner, explain it, export it for TF Serving.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status."""
    quiet_tensorflow()
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except CommittorKerasError as error:
        print(f"committor-keras {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"committor-keras {args.command}: interrupted", file=sys.stderr)
        return 130


def quiet_tensorflow():
    """Keep TensorFlow's start-up noise off the console, changing nothing that affects the numbers.

    Before TensorFlow loads: its C++ INFO and WARNING lines (CPU-feature banner, the oneDNN notice, absl's
    "log messages before InitializeLog" line) are dropped with ``TF_CPP_MIN_LOG_LEVEL=2`` and its Python
    logger shows errors only (no retracing warnings when every trial builds a new model). A value the user
    set is kept. ``TF_ENABLE_ONEDNN_OPTS`` is left alone: it changes the numerics, not only the messages.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def _version():
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("committor-keras")
    except PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
