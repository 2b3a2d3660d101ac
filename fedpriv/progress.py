"""``python -m fedpriv.progress <sweep_dir>``: trials done, running and left in a sweep folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fedpriv.sweeping.progress import sweep_progress


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fedpriv.progress", description=__doc__)
    parser.add_argument("sweep_dir", nargs="+", help="one or more sweep folders (multirun/<sweep>)")
    args = parser.parse_args(argv)
    for folder in args.sweep_dir:
        if not Path(folder).is_dir():
            print(f"fedpriv: sweep_dir {folder!r} is not a folder", file=sys.stderr)
            return 2
        print(f"{folder}: {sweep_progress(folder)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
