#!/usr/bin/env bash
# The main job end to end on the built-in demo shot, on a CPU: build the blocking (two proxy actors,
# a dolly camera, three-point lights), export its passes headless, generate a take with the embedded
# `previz` model, put it into the sequencer of a saved .blend, and write a preview MP4 and a contact
# sheet (passes beside the generated frames). Installs what it needs on first run.
# Usage: ./scripts/demo.sh [OUTPUT_FOLDER]   (default: out/demo)
# The output folder is the demo's own: each run replaces what the previous run wrote there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup_env.sh" blender engine
OUT="$(realpath -m "${1:-$ROOT/out/demo}")"
PY="$ROOT/.venv/bin/python"
ENGINE_PY="$ROOT/.venv-engine/bin/python"
mkdir -p "$OUT"
rm -rf "$OUT/takes"
start=$SECONDS

echo "[demo] building the demo blocking shot"
"$PY" "$ROOT/scripts/make_demo_scene.py" --save "$OUT/demo_shot.blend" --overwrite 2>/dev/null | grep -v '^Info' || true
echo "[demo] exporting passes and generating a take with the embedded previz model (CPU)"
"$PY" "$ROOT/scripts/shot_to_sequencer.py" "$OUT/demo_shot.blend" --save "$OUT/demo_takes.blend" --overwrite \
  --takes-dir "$OUT/takes" --engine-python "$ENGINE_PY" --engine-dir "$ROOT" --device cpu --seed 1
TAKE="$(dirname "$(find "$OUT/takes" -path '*/take-*/take.json' | sort | head -n 1)")"
BUNDLE="$("$ENGINE_PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["bundle"]["path"])' "$TAKE/take.json")"
cp "$TAKE/preview.mp4" "$OUT/preview.mp4"
"$ENGINE_PY" "$ROOT/scripts/contact_sheet.py" "$BUNDLE" --take "$TAKE" --out "$OUT/contact_sheet.png"
"$ENGINE_PY" - "$TAKE/take.json" <<'EOF'
import json, sys
record = json.load(open(sys.argv[1]))
timings = record["timings"]
print(f"[demo] {record['bundle']['frame_count']} frames generated in {timings['generate_s']:.1f} s "
      f"(model load {timings['load_s']:.1f} s) on {record['device']['name']}")
EOF
echo "[demo] done in $((SECONDS - start)) s:"
echo "  blocking       $OUT/demo_shot.blend"
echo "  with the take  $OUT/demo_takes.blend   (Video Sequencer: the take's strip)"
echo "  take           $TAKE"
echo "  preview        $OUT/preview.mp4"
echo "  contact sheet  $OUT/contact_sheet.png"
echo "  pass bundle    $BUNDLE   (format: docs/bundle.md)"
