#!/usr/bin/env bash
# Runs the whole test suite, installing what it needs first (idempotent):
#   the Blender-side tests on Blender 5.0 (bpy 5.0.1) and again on Blender 4.2 LTS (bpy 4.2.23),
#   then the engine's tests in the engine's own environment, then the farm jobs' tests (which
#   run real OpenJD/Flamenco jobs with the other environments) in the farm tools' environment.
# Extra arguments go to every pytest run (e.g. -x, -k NAME).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
environments=(blender blender42)
[ -f requirements-engine.txt ] && [ -d tests/engine ] && environments+=(engine)
[ -f requirements-farm.txt ] && [ -d tests/farm ] && environments+=(farm)
"$ROOT/scripts/setup_env.sh" "${environments[@]}" || exit 1

status=0
run() {  # run LABEL PYTHON PYTEST_ARGS...
  local label="$1" python="$2"
  shift 2
  echo "== $label"
  "$python" -m pytest "$@" || status=1
}
run "Blender 5.0 (bpy 5.0.1)" .venv/bin/python tests --ignore=tests/engine --ignore=tests/farm "$@"
run "Blender 4.2 LTS (bpy 4.2.23)" .venv-blender42/bin/python tests --ignore=tests/engine --ignore=tests/farm "$@"
if [[ " ${environments[*]} " == *" engine "* ]]; then
  run "engine" .venv-engine/bin/python tests/engine "$@"
fi
if [[ " ${environments[*]} " == *" farm "* ]]; then
  run "farm" .venv-farm/bin/python tests/farm "$@"
fi
exit $status
