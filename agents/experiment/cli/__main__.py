"""``python -m agents.experiment.cli``: the ``fer-select`` command."""

import sys

from agents.experiment.cli import main

sys.exit(main())
