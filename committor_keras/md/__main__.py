"""``python -m committor_keras.md COMMAND ...``: the ``md`` command group without the main CLI."""

import sys

from committor_keras.md._cli import main

sys.exit(main())
