"""Measure every preset and write docs/presets.md (see jaxrl/preset_report.py)."""

import sys

from jaxrl.preset_report import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
