#!/usr/bin/env bash
# Runs the whole test suite, installing what it needs first (idempotent).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup_env.sh" blender
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m pytest tests "$@"
