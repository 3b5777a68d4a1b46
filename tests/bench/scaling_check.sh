#!/usr/bin/env bash
# tools/bench/scaling.py in its tiny mode at 1 and 2 ranks on the karman binary given as $1:
#   - every workload has a strong series and (except the mesh solve) a weak one, entries at 1 and
#     2 ranks with status ok, a positive time and the stage metric it names;
#   - speedup and efficiency follow from the times (strong t1/tP and /P, weak t1/tP and P t1/tP);
#   - weak sizes grow with the ranks (samples, collocation points 2x; grid points about 2x),
#     strong sizes do not;
#   - `oversubscribed` is ranks x threads > cores.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
karman="$1"
json="$(KARMAN_BENCH_SCALING_TINY=1 KARMAN_BENCH_RANKS=1,2 OMP_NUM_THREADS=1 \
  /usr/bin/python3 "$root/tools/bench/scaling.py" --karman "$karman" | tail -n 1)"
/usr/bin/python3 - "$json" "$(nproc)" <<'PY'
import json, sys

r, cores = json.loads(sys.argv[1]), int(sys.argv[2])
errors = []
def expect(what, ok):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        errors.append(what)

expect("top-level keys", all(k in r for k in ("benchmark", "cores", "threads_per_rank", "ranks",
                                               "strong", "weak", "oversubscribed_note", "date")))
expect("tiny, ranks 1 and 2", r["tiny"] is True and r["ranks"] == [1, 2])
names = ["reference", "reference_mesh", "pinn", "dataset", "fno"]
expect("every workload has a strong series", sorted(r["strong"]) == sorted(names))
expect("weak series, none for the mesh", sorted(r["weak"]) == sorted(names)
       and r["weak"]["reference_mesh"] is None)
growth = {"reference": "grid.n", "pinn": "samples.interior", "dataset": "data.samples",
          "fno": "data.samples"}
for kind in ("strong", "weak"):
    for name, series in r[kind].items():
        if series is None:
            continue
        where = f"{kind} {name}"
        expect(f"{where}: entries at 1 and 2 ranks", [e["ranks"] for e in series] == [1, 2])
        for e in series:
            expect(f"{where} at {e['ranks']}: ok, time > 0, metric {e['time_metric']}",
                   e["status"] == "ok" and e["time_s"] > 0 and e["time_metric"] != "wall_s")
            expect(f"{where} at {e['ranks']}: oversubscribed flag",
                   e["oversubscribed"] == (e["ranks"] * e["threads"] > cores))
        t1, t2 = series[0]["time_s"], series[1]["time_s"]
        if kind == "strong":
            expect(f"{where}: speedup t1/t2, efficiency speedup/2",
                   abs(series[1]["speedup"] - t1 / t2) < 1e-12
                   and abs(series[1]["efficiency"] - t1 / t2 / 2) < 1e-12)
            expect(f"{where}: same size at 1 and 2 ranks", series[0]["size"] == series[1]["size"])
        else:
            expect(f"{where}: efficiency t1/t2, speedup 2 t1/t2",
                   abs(series[1]["efficiency"] - t1 / t2) < 1e-12
                   and abs(series[1]["speedup"] - 2 * t1 / t2) < 1e-12)
            a, b = series[0]["size"][growth[name]], series[1]["size"][growth[name]]
            ratio = (b / a) ** 3 if name == "reference" else b / a
            expect(f"{where}: {growth[name]} grows 2x ({a} -> {b})", abs(ratio - 2) < 0.5)
        expect(f"{where}: speedup 1 at one rank", series[0]["speedup"] == 1.0)
sys.exit(1 if errors else 0)
PY
