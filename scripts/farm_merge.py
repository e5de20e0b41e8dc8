"""One farm merge task: a shot's chunk bundles into its bundle, or nothing if that is already done.

    python scripts/farm_merge.py --chunks-dir OUTPUT/chunks/SHOT --chunks 1-8,9-12 --out OUTPUT/bundles/SHOT

Runs in the engine venv. The merged bundle counts as done when it is valid, holds exactly the
chunks' frames and passes at their size, and was exported from the same saved .blend (its
sha256) as every chunk; then a re-run changes nothing. Otherwise it is merged again and
swapped into place whole (engine.bundle.merge, whose writer clears its own path's leftovers).
Leftovers of killed chunk exports (hidden `.NAME.partial-*` / `.replaced-*` folders, which no
task of this shot can still be writing once the merge runs) are removed too.
Exit code 0 only on success; otherwise one line says what to fix.
"""

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
from engine.bundle import BundleError, read_bundle, validate_bundle  # noqa: E402
from engine.bundle.storage import remove_leftovers  # noqa: E402
from engine.bundle.merge import merge_bundles  # noqa: E402
from farm.layout import LayoutError, format_range, parse_ranges  # noqa: E402


def merged_is_current(out, chunk_dirs):
    """True when `out` is already the merge of these chunks (same .blend hash, frames, passes, size)."""
    try:
        merged = read_bundle(out)
        chunks = sorted((read_bundle(chunk) for chunk in chunk_dirs), key=lambda b: b.frames[0])
    except (BundleError, OSError, ValueError):
        return False
    blend_hash = merged.record.source.blend_sha256
    return (blend_hash is not None
            and all(chunk.record.source.blend_sha256 == blend_hash for chunk in chunks)
            and merged.frames == [frame for chunk in chunks for frame in chunk.frames]
            and all(tuple(chunk.passes) == tuple(merged.passes) for chunk in chunks)
            and all((chunk.width, chunk.height) == (merged.width, merged.height) for chunk in chunks)
            and not validate_bundle(out))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="farm_merge", description=__doc__.splitlines()[0])
    parser.add_argument("--chunks-dir", required=True, type=Path, help="the shot's chunk bundles' folder")
    parser.add_argument("--chunks", required=True, help="the chunks' frame ranges, e.g. 1-8,9-12")
    parser.add_argument("--out", required=True, type=Path, help="the shot's bundle folder")
    args = parser.parse_args(argv)
    try:
        chunk_dirs = [args.chunks_dir / format_range(a, b) for a, b in parse_ranges(args.chunks)]
        if merged_is_current(args.out, chunk_dirs):
            print(f"farm_merge: {args.out} is already this merge; nothing to do")
        else:
            merge_bundles(chunk_dirs, args.out, overwrite=True)
            print(f"farm_merge: wrote {args.out} from {len(chunk_dirs)} chunk(s)")
    except (BundleError, LayoutError) as exc:
        print(f"farm_merge: error: {exc}", file=sys.stderr)
        return 1
    remove_leftovers(args.chunks_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
