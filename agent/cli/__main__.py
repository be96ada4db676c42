"""``python -m agent.cli`` — the same as the ``toolwire`` command."""

import sys

from agent.cli import main

sys.exit(main())
