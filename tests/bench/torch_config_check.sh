#!/usr/bin/env bash
# The PyTorch peers of tools/bench fail loudly when they would run a slower configuration than the
# one they report (tools/bench/torch_config.py through torch_env's torch_run_at):
#   - the configuration torch_env sets passes, at 1 thread and at nproc threads, and its record
#     names the OpenMP OpenBLAS as the library sgemm_ resolves to;
#   - without the OpenMP OpenBLAS preloaded, without the malloc settings, with OMP_NUM_THREADS
#     not the requested threads, or with ATen's AVX2 kernels on an AVX-512 CPU, the run exits 3
#     with ONE line saying what fell back, and a bench script (tools/bench/pinn) fails with it;
#   - KARMAN_BENCH_ALLOW_SLOW_TORCH=1 lets the wrong configuration run and records it.
# SKIPPED (77) when /usr/bin/python3 has no torch or the OpenMP OpenBLAS is not installed.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
check="$root/tools/bench/torch_config.py"
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "SKIPPED: /usr/bin/python3 cannot import torch (Debian package python3-torch)"
  exit 77
fi
# shellcheck source=tools/bench/torch_env
source "$root/tools/bench/torch_env"
if [ ! -f "$torch_openmp_blas_dir/libopenblas.so.0" ]; then
  echo "SKIPPED: $torch_openmp_blas_dir/libopenblas.so.0 missing (tools/setup installs it)"
  exit 77
fi
export PYTHONDONTWRITEBYTECODE=1
unset KARMAN_BENCH_ALLOW_SLOW_TORCH
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
# field JSON EXPR: EXPR (e.g. '["blas"]["sgemm_from"]') applied to the JSON object, printed.
field() {
  /usr/bin/python3 -c \
    'import json, sys; print(eval("c" + sys.argv[2], {"c": json.loads(sys.argv[1])}))' "$1" "$2"
}

# 1. The right configuration passes and says what it ran.
for threads in 1 "$(nproc)"; do
  if ! out="$(torch_run_at "$threads" "$check" 2>/tmp/torch_config_check.$$)"; then
    fail "torch_env's configuration fails at $threads thread(s): $(cat /tmp/torch_config_check.$$)"
    continue
  fi
  [ "$(field "$out" '["fallbacks"]')" = "[]" ] || fail "fallbacks at $threads threads: $out"
  [ "$(field "$out" '["threads"]')" = "$threads" ] || fail "threads not $threads: $out"
  [ "$(field "$out" '["blas"]["openblas_parallel"]')" = "openmp" ] || fail "not openmp: $out"
  case "$(field "$out" '["blas"]["sgemm_from"]')" in
    */openblas-openmp/*) ;;
    *) fail "sgemm_ not from the OpenMP OpenBLAS: $out" ;;
  esac
done

# expect_fallback NAME PATTERN COMMAND...: COMMAND exits 3, prints nothing on stdout and ONE
# stderr line that contains "fell back" and PATTERN.
expect_fallback() {
  local name=$1 pattern=$2 status err out
  shift 2
  out="$("$@" 2>/tmp/torch_config_check.$$)"
  status=$?
  err="$(cat /tmp/torch_config_check.$$)"
  [ "$status" -eq 3 ] || fail "$name: status $status, not 3 (stderr: $err)"
  [ -z "$out" ] || fail "$name: printed a result: $out"
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "$name: not one line: $err"
  case "$err" in
    *"fell back"*"$pattern"*) echo "ok: $name -> $err" ;;
    *) fail "$name: the message does not say '$pattern': $err" ;;
  esac
}
# (with ATEN_CPU_CAPABILITY=avx512 on an AVX-512 CPU, as torch_env sets it, so that each case
# below has exactly one thing wrong)
malloc=(MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736)
avx512=no
if /usr/bin/python3 -c "import sys; sys.path.insert(0, '$root/tools/bench'); import torch_config
sys.exit(0 if torch_config.cpu_has_avx512() else 1)"; then
  avx512=yes
  malloc+=(ATEN_CPU_CAPABILITY=avx512)
fi
openmp_blas="$torch_openmp_blas_dir/libopenblas.so.0:$torch_openmp_blas_dir/libblas.so.3"

# 2. torch_env without the OpenMP OpenBLAS (not installed): Debian's default pthread OpenBLAS.
# shellcheck disable=SC2016 # ($1, $2: the inner shell's arguments)
expect_fallback "no OpenMP OpenBLAS" "is not mapped" \
  bash -c 'source "$1"; torch_openmp_blas_dir=/nonexistent; torch_run_at 1 "$2"' _ \
  "$root/tools/bench/torch_env" "$check"
# 3. Only libopenblas.so.0 preloaded: the pthread libblas.so.3 is mapped beside it.
expect_fallback "pthread libblas.so.3 beside" "non-OpenMP OpenBLAS is mapped" \
  env LD_PRELOAD="$torch_openmp_blas_dir/libopenblas.so.0" OMP_NUM_THREADS=1 "${malloc[@]}" \
  /usr/bin/python3 "$check" --threads 1
# 4. No malloc settings.
expect_fallback "no malloc settings" "MALLOC_MMAP_MAX_" \
  env -u MALLOC_MMAP_MAX_ -u MALLOC_TRIM_THRESHOLD_ LD_PRELOAD="$openmp_blas" OMP_NUM_THREADS=1 \
  "${malloc[@]:2}" /usr/bin/python3 "$check" --threads 1
# 5. OMP_NUM_THREADS not the requested threads (OpenBLAS would run another count).
expect_fallback "OMP_NUM_THREADS differs" "OMP_NUM_THREADS is 3" \
  env LD_PRELOAD="$openmp_blas" OMP_NUM_THREADS=3 "${malloc[@]}" \
  /usr/bin/python3 "$check" --threads 1
# 6. ATen's AVX2 kernels on an AVX-512 CPU.
if [ "$avx512" = yes ]; then
  expect_fallback "AVX2 kernels on AVX-512" "AVX2 kernels" \
    env -u ATEN_CPU_CAPABILITY LD_PRELOAD="$openmp_blas" OMP_NUM_THREADS=1 \
    MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 /usr/bin/python3 "$check" --threads 1
fi
# 7. A bench script whose peer falls back fails: non-zero status, no JSON, the reason on stderr.
out="$(KARMAN_BENCH_OPENMP_BLAS_DIR=/nonexistent KARMAN_BENCH_NO_BUILD=1 \
  KARMAN_BUILD_DIR=/nonexistent "$root/tools/bench/pinn" 2>/tmp/torch_config_check.$$)"
status=$?
if [ "$status" -ne 0 ] && [ -z "$out" ] && grep -q "fell back" /tmp/torch_config_check.$$; then
  echo "ok: tools/bench/pinn fails (status $status, no JSON) when its peer falls back"
else
  fail "tools/bench/pinn with a fallen-back peer: status $status, stdout '$out'"
fi
# 8. The explicit opt-out runs and records the fallback.
if out="$(KARMAN_BENCH_ALLOW_SLOW_TORCH=1 env -u LD_PRELOAD OMP_NUM_THREADS=1 "${malloc[@]}" \
  /usr/bin/python3 "$check" --threads 1 2>/dev/null)"; then
  [ "$(field "$out" '["allow_slow_torch"]')" = "True" ] || fail "opt-out not recorded: $out"
  [ "$(field "$out" '["fallbacks"] != []')" = "True" ] || fail "opt-out: no fallbacks: $out"
  echo "ok: KARMAN_BENCH_ALLOW_SLOW_TORCH=1 runs and records $(field "$out" '["fallbacks"][0]')"
else
  fail "KARMAN_BENCH_ALLOW_SLOW_TORCH=1 did not run"
fi
rm -f /tmp/torch_config_check.$$
if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "PASSED"
