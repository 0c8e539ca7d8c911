"""The same program as `jaxrl sweep` (see `python scripts/sweep.py --help`)."""

import sys

from jaxrl.cli import sweep_command

if __name__ == "__main__":
    sys.exit(sweep_command(sys.argv[1:], prog="python scripts/sweep.py"))
