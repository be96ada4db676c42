"""``python -m bench``: run every benchmark script in bench/ (one process each), in name order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    scripts = sorted(p for p in HERE.glob("*.py") if not p.name.startswith("_"))
    failed = []
    for script in scripts:
        print(f"== bench.{script.stem}", flush=True)
        code = subprocess.call([sys.executable, "-m", f"bench.{script.stem}"], cwd=HERE.parent)
        if code:
            failed.append(script.stem)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
