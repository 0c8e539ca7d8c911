"""Benchmark jaxrl against Stable-Baselines3: the same program as `jaxrl benchmark`."""

import sys

from jaxrl.benchmark import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
