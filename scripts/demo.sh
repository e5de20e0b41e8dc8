#!/usr/bin/env bash
# The main job end to end on the built-in demo shot: build the blocking (two proxy actors, a dolly
# camera, three-point lights), export its passes headless, and draw a contact sheet to look at.
# Installs what it needs on first run. Usage: ./scripts/demo.sh [OUTPUT_FOLDER]   (default: out/demo)
# The output folder is the demo's own: each run replaces what the previous run wrote there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup_env.sh" blender
OUT="$(realpath -m "${1:-$ROOT/out/demo}")"
PY="$ROOT/.venv/bin/python"
mkdir -p "$OUT"
start=$SECONDS

echo "[demo] building the demo blocking shot"
"$PY" "$ROOT/scripts/make_demo_scene.py" --save "$OUT/demo_shot.blend" --overwrite 2>/dev/null | grep -v '^Info' || true
echo "[demo] exporting passes (depth, pose, camera, clay shading, normals, actor masks, object ids)"
"$PY" "$ROOT/scripts/export_passes.py" "$OUT/demo_shot.blend" --out "$OUT/passes" --overwrite \
  --passes depth,pose,camera,shading,normal,mask,objects
test -f "$OUT/passes/bundle.json"
"$PY" "$ROOT/scripts/contact_sheet.py" "$OUT/passes" --out "$OUT/contact_sheet.png"
echo "[demo] done in $((SECONDS - start)) s:"
echo "  scene          $OUT/demo_shot.blend"
echo "  pass bundle    $OUT/passes   (format: docs/bundle.md)"
echo "  contact sheet  $OUT/contact_sheet.png"
