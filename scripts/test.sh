#!/usr/bin/env bash
# Runs the whole test suite, installing what it needs first (idempotent):
#   the Blender-side tests on Blender 5.0 (bpy 5.0.1) and again on Blender 4.2 LTS (bpy 4.2.23),
#   then the engine's tests in the engine's own environment, then the farm jobs' tests (which
#   run real OpenJD/Flamenco jobs with the other environments) in the farm tools' environment,
#   then, in their own step, the `slow` checks (the engine installed into fresh environments).
# Scenarios marked `engine_roundtrip` (the real engine driven end to end from Blender: a minute or
# more each) run in the slow step too, on Blender 5.0 only: the engine does not depend on Blender's
# version, and the add-on's 4.2 differences (its `sequences`, its text strips, its preferences) are
# covered by every other test, which runs on both. BLOCKCAST_SLOW=skip leaves the slow step out
# (.ci/run: CI's 30 minutes), and BLOCKCAST_SLOW=only runs nothing else (.ci/run-slow, CI's own job).
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
  local label="$1" python="$2" started=$SECONDS
  shift 2
  echo "== $label"
  "$python" -m pytest --durations=10 "$@" || status=1
  echo "== $label: $((SECONDS - started)) s"
}
blender_tests=(tests --ignore=tests/engine --ignore=tests/farm)
slow="${BLOCKCAST_SLOW:-include}"
if [[ "$slow" != only ]]; then
  run "Blender 5.0 (bpy 5.0.1)" .venv/bin/python "${blender_tests[@]}" -m "not slow and not engine_roundtrip" "$@"
  run "Blender 4.2 LTS (bpy 4.2.23)" .venv-blender42/bin/python "${blender_tests[@]}" -m "not slow and not engine_roundtrip" "$@"
  if [[ " ${environments[*]} " == *" engine "* ]]; then
    run "engine" .venv-engine/bin/python tests/engine -m "not slow" "$@"
  fi
  if [[ " ${environments[*]} " == *" farm "* ]]; then
    run "farm" .venv-farm/bin/python tests/farm "$@"
  fi
fi
if [[ "$slow" != skip ]]; then
  run "slow checks (Blender 5.0)" .venv/bin/python "${blender_tests[@]}" -m "slow or engine_roundtrip" "$@"
  if [[ " ${environments[*]} " == *" engine "* ]]; then
    run "slow checks (engine)" .venv-engine/bin/python tests/engine -m slow "$@"
  fi
fi
exit $status
