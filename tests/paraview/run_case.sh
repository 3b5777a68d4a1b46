#!/usr/bin/env bash
# One ParaView test (tests/CMakeLists.txt, karman_add_paraview_test): run a case with `karman run`
# into a fresh folder, then open the run in a real ParaView with check_run.py.
#
#   run_case.sh KARMAN WORK_DIR CASE_YAML [--set KEY=VALUE ...] [-- [--script CHECK.py] ARGS ...]
#
# Exit 77 (ctest: SKIPPED) when pvpython or xvfb-run is not installed: ParaView is a test-only
# dependency that .ci/run installs, not something users need to build or test.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ $# -lt 3 ]; then
  echo "usage: run_case.sh KARMAN WORK_DIR CASE_YAML [--set KEY=VALUE ...] [-- CHECK_ARGS ...]" >&2
  exit 2
fi
karman="$1" work="$2" case_file="$3"
shift 3
run_args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  run_args+=("$1")
  shift
done
[ $# -gt 0 ] && shift  # the "--"
# The check script: check_run.py, or the one named by a leading --script NAME.
script="check_run.py"
if [ $# -ge 2 ] && [ "$1" = "--script" ]; then
  script="$2"
  shift 2
fi

for tool in pvpython xvfb-run; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "SKIPPED: $tool is not installed (Debian paraview, python3-paraview, xvfb; .ci/run installs them)"
    exit 77
  fi
done

rm -rf "$work"
mkdir -p "$work"
cd "$work"
"$karman" run "$case_file" --output run ${run_args[@]+"${run_args[@]}"}
# pvpython needs a display even when it renders nothing; xvfb-run -a picks a free one.
xvfb-run -a pvpython "$here/$script" "$work/run" "$@"
