"""The same program as `jaxrl evaluate` (see `python scripts/evaluate.py --help`)."""

import sys

from jaxrl.cli import evaluate_command

if __name__ == "__main__":
    sys.exit(evaluate_command(sys.argv[1:], prog="python scripts/evaluate.py"))
