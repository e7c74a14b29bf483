"""The one exception family for mistakes a user can fix.

The command line prints these as a single line and exits with status 2; anything else is a bug and keeps
its traceback.
"""


class CommittorKerasError(Exception):
    """A user error: bad input, bad configuration, missing file. Its message says what to fix."""


class DataError(CommittorKerasError, ValueError):
    """A committor data set that is malformed or inconsistent.

    Args:
        source: the file (or "<memory>") the data came from.
        field: the field or column at fault.
        problem: what is wrong and, where possible, how to fix it.
    """

    def __init__(self, source, field, problem):
        self.source = str(source)
        self.field = field
        self.problem = problem
        super().__init__(f"{self.source}: field '{field}': {problem}")


class ConfigError(CommittorKerasError, ValueError):
    """An invalid search-space, study or command-line configuration."""
