#!/usr/bin/env bash
# The main job end to end on the built-in demo scene, on a CPU: build the blocking (two described
# proxy actors, props, three-point lights, a shot "A" and its reverse shot "B" across the line,
# each a camera bound to a timeline marker), then for each shot, in its own run, export its passes
# headless, generate a take with the embedded `previz` model at the same seed (so the same look),
# and put it into the sequencer of a saved .blend; write each shot's preview MP4 and a contact sheet
# of the two shots side by side under the cast (each actor's description and look in each shot).
# Installs what it needs on first run.
# Usage: ./scripts/demo.sh [OUTPUT_FOLDER]   (default: out/demo)
# The output folder is the demo's own: each run replaces what the previous run wrote there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup_env.sh" blender engine
OUT="$(realpath -m "${1:-$ROOT/out/demo}")"
PY="$ROOT/.venv/bin/python"
ENGINE_PY="$ROOT/.venv-engine/bin/python"
FRAMES_PER_SHOT=24
SEED=1
mkdir -p "$OUT"
rm -rf "$OUT/takes" "$OUT/.demo_takes_A.blend"
rm -f "$OUT/preview.mp4"  # an earlier demo's single-shot preview
start=$SECONDS

echo "[demo] building the demo blocking: shot A and its reverse shot B, $FRAMES_PER_SHOT frames each"
"$PY" "$ROOT/scripts/make_demo_scene.py" --save "$OUT/demo_shot.blend" --overwrite --reverse-shot \
  --frames "$FRAMES_PER_SHOT" 2>/dev/null | grep -v '^Info' || true
# One run per shot, as separate days or farm tasks would: the look comes from the scene's cast and
# the seed only, never from which shot is generated or in what order. Each run adds its take to the
# .blend the previous one saved.
input="$OUT/demo_shot.blend"
for shot in A B; do
  echo "[demo] shot $shot: exporting passes and generating a take with the embedded previz model (CPU, seed $SEED)"
  save="$OUT/.demo_takes_$shot.blend"
  "$PY" "$ROOT/scripts/shot_to_sequencer.py" "$input" --shot "$shot" --save "$save" --overwrite \
    --takes-dir "$OUT/takes" --engine-python "$ENGINE_PY" --engine-dir "$ROOT" --device cpu --seed "$SEED"
  input="$save"
done
mv "$OUT/.demo_takes_B.blend" "$OUT/demo_takes.blend"
rm -f "$OUT/.demo_takes_A.blend"
take_of() { dirname "$(find "$OUT/takes" -path "*/$1/take-*/take.json" | sort | head -n 1)"; }
TAKE_A="$(take_of A)"
TAKE_B="$(take_of B)"
cp "$TAKE_A/preview.mp4" "$OUT/preview_A.mp4"
cp "$TAKE_B/preview.mp4" "$OUT/preview_B.mp4"
"$ENGINE_PY" "$ROOT/scripts/contact_sheet.py" --shots "$TAKE_A" "$TAKE_B" --out "$OUT/contact_sheet.png"
"$ENGINE_PY" - "$ROOT" "$TAKE_A" "$TAKE_B" <<'PYEOF'
import sys
sys.path.insert(0, sys.argv[1])
from engine.bundle.take_record import read_take
for take_dir in sys.argv[2:]:
    record = read_take(take_dir)
    timings, look = record.timings, record.look
    print(f"[demo] shot {record.bundle.shot or '?'}: {record.bundle.frame_count} frames generated in "
          f"{timings.generate_s:.1f} s (model load {timings.load_s:.1f} s) on {record.device.name}"
          + (f", look seed {look.look_seed}" if look is not None and look.look_seed is not None else ""))
    if record.understood or record.ignored:
        print(f"        understood: {'; '.join(record.understood) or '-'}"
              f" · ignored: {'; '.join(record.ignored) or '-'}")
PYEOF
echo "[demo] done in $((SECONDS - start)) s:"
echo "  blocking       $OUT/demo_shot.blend   (markers A and B bound to the two cameras)"
echo "  with the takes $OUT/demo_takes.blend   (Video Sequencer: one strip per shot)"
echo "  takes          $TAKE_A"
echo "                 $TAKE_B"
echo "  previews       $OUT/preview_A.mp4  $OUT/preview_B.mp4"
echo "  contact sheet  $OUT/contact_sheet.png   (the shots side by side under the cast)"
echo "  pass bundles   next to each take, under $OUT/takes   (format: docs/bundle.md)"
