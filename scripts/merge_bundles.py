"""Merge bundles of one shot exported in frame chunks (e.g. by farm tasks) into one bundle.

    python scripts/merge_bundles.py CHUNK_DIR... --out BUNDLE_DIR [--overwrite]

The result is the same, byte for byte, as exporting the whole shot at once.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.bundle import BundleError  # noqa: E402
from engine.bundle.merge import merge_bundles  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(prog="merge_bundles", description=__doc__.splitlines()[0])
    parser.add_argument("chunks", nargs="+", type=Path, help="chunk bundle folders, in any order")
    parser.add_argument("--out", required=True, type=Path, help="the merged bundle folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing bundle at --out")
    args = parser.parse_args(argv)
    try:
        path = merge_bundles(args.chunks, args.out, args.overwrite)
    except BundleError as exc:
        print(f"merge_bundles: error: {exc}", file=sys.stderr)
        return 1
    print(f"merge_bundles: wrote {path} from {len(args.chunks)} chunks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
