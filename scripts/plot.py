"""The same program as `jaxrl plot` (see `python scripts/plot.py --help`)."""

import sys

from jaxrl.cli import plot_command

if __name__ == "__main__":
    sys.exit(plot_command(sys.argv[1:], prog="python scripts/plot.py"))
