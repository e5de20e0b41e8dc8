"""The variations folder, written whole or not at all, like a take (engine.takes).

    DIR/variations-002-s100/   variations.json, sheet.png, tiles/s100.png ...

Everything goes into a hidden `.variations-NNN-s<S>.partial` folder, renamed into place once
complete, so a cancelled or failed run never leaves a folder that looks finished; creating the
partial folder reserves the number, so two runs never pick the same one, and nothing is overwritten.
"""

import os
import shutil
from pathlib import Path

from ..bundle.variations_record import TILES_DIR, VARIATIONS_RECORD
from ..bundle.numbered import VARIATIONS_NUMBERED, reserve_numbered, variations_name
from ..takes import TakeError, check_takes_dir


def check_out_dir(path):
    """Create DIR if needed and prove it writable, before any model loads (TakeError says what to do)."""
    return check_takes_dir(path)


class VariationsWriter:
    """Collects one run's files in a partial folder; `commit` renames it into place."""

    def __init__(self, out_dir, first_seed):
        self.out_dir = Path(out_dir)
        self.name, self.partial = reserve_numbered(
            self.out_dir, VARIATIONS_NUMBERED, lambda n: variations_name(n, first_seed),
            lambda exc: TakeError(f"cannot write variations to {self.out_dir} ({exc.strerror or exc}): choose an "
                                  "--out folder you can write to"))
        (self.partial / TILES_DIR).mkdir()
        self.final = self.out_dir / self.name
        self.committed = False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self.committed:
            shutil.rmtree(self.partial, ignore_errors=True)
        return False

    def write_image(self, relative, image):
        """Save a PIL image as PNG at `relative` inside the folder; returns `relative`."""
        image.save(self.partial / relative, format="PNG")
        return relative

    def commit(self, record):
        """Write variations.json, then rename the finished folder into place (never over another)."""
        (self.partial / VARIATIONS_RECORD).write_text(record.dumps(), encoding="utf-8")
        if self.final.exists():
            self.committed = True  # keep the finished run rather than delete it
            raise TakeError(f"{self.final} appeared while these variations were made; they are kept at "
                            f"{self.partial}: rename it by hand")
        os.rename(self.partial, self.final)
        self.committed = True
        return self.final
