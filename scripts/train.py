"""Train an agent: the same program as `jaxrl train` (see `python scripts/train.py --help`)."""

import sys

from jaxrl.cli import train_command

if __name__ == "__main__":
    sys.exit(train_command(sys.argv[1:], prog="python scripts/train.py"))
