#!/usr/bin/env bash
# Creates (or refreshes) the project's local virtual environments; safe to run again.
# Usage: scripts/setup_env.sh [blender] [blender42] [engine] [farm]   (default: blender)
# .venv            bpy 5.0 (real Blender as a module) for headless scripts and tests
# .venv-blender42  bpy 4.2 LTS, the oldest Blender we support, for the tests
# .venv-engine     the generation engine's own environment (torch never loads inside Blender)
# .venv-farm       render-farm tools: Open Job Description's CLI (openjd check / openjd run)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${BLOCKCAST_PYTHON:-python3.11}"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "Blockcast needs Python 3.11 (what Blender 4.2-5.0 and the bpy module use): install it, or set BLOCKCAST_PYTHON" >&2
  exit 1
fi

ensure_venv() {  # ensure_venv DIR REQUIREMENTS_FILE
  local venv="$ROOT/$1" requirements="$ROOT/$2" stamp="$ROOT/$1/.blockcast-requirements"
  if [ ! -x "$venv/bin/python" ]; then
    echo "[setup] creating $1 with $PYTHON" >&2
    "$PYTHON" -m venv "$venv"
  fi
  if [ -f "$stamp" ] && cmp -s "$requirements" "$stamp"; then
    return 0
  fi
  echo "[setup] installing $2 into $1 (first run takes a few minutes)" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
}

for target in "${@:-blender}"; do
  case "$target" in
    blender) ensure_venv .venv requirements-blender.txt ;;
    blender42) ensure_venv .venv-blender42 requirements-blender42.txt ;;
    engine) ensure_venv .venv-engine requirements-engine.txt ;;
    farm) ensure_venv .venv-farm requirements-farm.txt ;;
    *) echo "unknown environment '$target': use blender, blender42, engine or farm" >&2; exit 2 ;;
  esac
done
