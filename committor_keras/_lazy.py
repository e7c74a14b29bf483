"""Lazy re-exports (PEP 562): a package lists its public names and loads each module on first use.

This keeps `import committor_keras` and `committor-keras --help` free of TensorFlow, OpenMM and MDAnalysis.
"""

import importlib
import sys


def lazy_exports(package, exports):
    """Module-level ``__getattr__`` and ``__dir__`` for ``package``.

    Args:
        package: the package's ``__name__``.
        exports: public name -> module that defines it, relative to ``package`` (``"._ig"``) or absolute.

    Returns:
        ``(__getattr__, __dir__)`` to assign in the package's ``__init__``.
    """
    def __getattr__(name):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name], package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted({*exports, *sys.modules[package].__dict__.get("__all__", ())})

    return __getattr__, __dir__
