"""``python -m gateway.cli``: `drgate` where the script is not on PATH."""

import sys

from gateway.cli.main import main

sys.exit(main())
