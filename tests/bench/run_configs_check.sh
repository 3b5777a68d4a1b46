#!/usr/bin/env bash
# tools/bench/run_configs.py on a stand-in benchmark binary (a script that reports the threads it
# was given and takes 0.5 s per step at 1 thread, 0.25 s on the node) and a PyTorch record (1 s
# at all cores, 2 s at 1 thread):
#   - a threaded build: Karman runs at 1 x 1 and at 1 x nproc threads, speedups node vs PyTorch
#     all cores = 1 / 0.25 = 4, 1x1 vs PyTorch 1 thread = 2 / 0.5 = 4, torch_config lifted out;
#   - a Serial build: karman_node is null with a reason, no node speedup.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/bench_fake" <<'EOF'
#!/usr/bin/env bash
# FAKE_SERIAL=1: a Serial build (one thread whatever OMP_NUM_THREADS says).
threads=$OMP_NUM_THREADS space=OpenMP
if [ -n "${FAKE_SERIAL:-}" ]; then threads=1 space=Serial; fi
execution="{\"ranks\": 1, \"threads\": $threads, \"kokkos_execution_space\": \"$space\","
execution+=" \"blas_threads\": $OPENBLAS_NUM_THREADS}"
if [ "${1:-}" = "--execution-config" ]; then echo "$execution"; exit 0; fi
echo "a human-readable line"
step=$(awk -v t="$threads" 'BEGIN { print (t == 1 ? 0.5 : 0.25) }')
echo "{\"step_s\": $step, \"execution\": $execution}"
EOF
chmod +x "$work/bench_fake"
echo '{"torch_step_s": 1.0, "torch_step_s_1thread": 2.0, "torch_config": {"threads": 2},
       "torch_config_1thread": {"threads": 1, "allow_slow_torch": false}}' | tr -d '\n' \
  >"$work/torch.json"
run() {
  /usr/bin/python3 "$root/tools/bench/run_configs.py" --name fake --binary "$work/bench_fake" \
    --torch-json "$work/torch.json" --speedup step_s=torch_step_s 2>/dev/null | tail -n 1
}
threaded="$(run)"
serial="$(FAKE_SERIAL=1 run)"
/usr/bin/python3 - "$threaded" "$serial" "$(nproc)" <<'EOF'
import json, sys

threaded, serial, cores = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
errors = []
def expect(what, ok):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        errors.append(what)

expect("1x1 ran at 1 thread, 1 BLAS thread",
       threaded["karman_1x1"]["execution"] == {"ranks": 1, "threads": 1,
                                                "kokkos_execution_space": "OpenMP",
                                                "blas_threads": 1})
if cores > 1:
    expect(f"node ran at {cores} threads", threaded["karman_node"]["execution"]["threads"] == cores)
    expect("speedup node vs torch all cores = 4",
           abs(threaded["speedup_node_vs_torch_all_cores"]["step_s"] - 4.0) < 1e-12)
expect("speedup 1x1 vs torch 1 thread = 4",
       abs(threaded["speedup_1x1_vs_torch_1thread"]["step_s"] - 4.0) < 1e-12)
expect("torch_config for both thread counts at the top level",
       threaded["torch_config"] == {"threads": 2}
       and threaded["torch_config_1thread"]["threads"] == 1
       and "torch_config" not in threaded["torch"])
expect("allow_slow_torch false", threaded["allow_slow_torch"] is False)
expect("Serial build: karman_node null with a reason",
       serial["karman_node"] is None and "Serial" in serial["karman_node_reason"]
       and "mpiexec" in serial["karman_node_reason"])
expect("Serial build: no node speedup", serial["speedup_node_vs_torch_all_cores"] is None)
sys.exit(1 if errors else 0)
EOF
