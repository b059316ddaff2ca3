"""The command line shared by the generators of shared test vectors (models/spec/*.json): write the file, or
with --check say whether the committed one is still what the generator produces."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable


def spec_main(argv: list[str] | None, description: str, default_path: Path, module: str, build_text: Callable[[], str]) -> int:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=default_path, help="file to write (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = parser.parse_args(argv)
    text = build_text()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else None
        if current != text:
            print(f"{args.out} is stale: run python3 -m {module} in models/", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0
