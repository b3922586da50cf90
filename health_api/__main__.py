"""``python -m health_api``: see :mod:`health_api.cli`."""

import sys

from health_api.cli import main

sys.exit(main())
