#!/usr/bin/python3
"""The JSON of tools/bench/gno from its runs' lines: gno_summary.py LINES BUDGET_GB NODE_REASON.

LINES holds one JSON object per run: bench_gno (tagged "karman_config": "1x1" or "node") and
gno_torch.py through torch_run (all cores, and the 1-thread run's keys with _1thread). Per size
and rank the summary gives the memory ratio materialised / factored, karman_factored's step at 1x1
and on the node, and its speedups over every other variant that ran, named for what they compare:
  speedup_1x1_vs_<variant>_1thread     Karman 1 rank x 1 thread against <variant> at 1 thread
                                       (karman_materialized: its 1x1 run);
  speedup_node_vs_<variant>_all_cores  Karman on the node against <variant> on all cores.
Human-readable lines on stderr, ONE JSON object on stdout (the keys: tools/bench/gno's header).
"""

import datetime
import json
import sys

sys.dont_write_bytecode = True  # (no __pycache__ in the source tree)
from run_configs import describe_torch  # noqa: E402

OTHERS = ("karman_materialized", "torch_reference", "torch_factored")


def step(group, name, config):
    """Seconds per step of `name` in `config` ("1x1" or "node"; PyTorch: 1 thread or all cores)."""
    if name.startswith("karman_"):
        v = group.get((name, config))
        return v.get("step_s") if v else None
    v = group.get((name, None))
    if not v:
        return None
    return v.get("torch_step_s_1thread") if config == "1x1" else v.get("torch_step_s")


def summarize(side, rank, group):
    s = {"side": side, "rank": rank, "edges": next(iter(group.values()))["edges"]}
    f, m = group.get(("karman_factored", "1x1")), group.get(("karman_materialized", "1x1"))
    if f and m:
        s["memory_ratio_materialized_over_factored"] = m["working_bytes"] / f["working_bytes"]
        s["karman_factored_working_bytes"] = f["working_bytes"]
        s["karman_materialized_working_bytes"] = m["working_bytes"]
    for (name, _), v in group.items():
        if name.startswith("torch_") and "torch_estimated_bytes" in v:
            s[name + "_estimated_bytes"] = v["torch_estimated_bytes"]
    for config, label in (("1x1", "1thread"), ("node", "all_cores")):
        mine = step(group, "karman_factored", config)
        if not mine:
            continue
        s[f"karman_factored_step_s_{config}"] = mine
        for name in OTHERS:
            theirs = step(group, name, config)
            if theirs:
                s[f"{name}_step_s_{label}"] = theirs
                s[f"speedup_{config}_vs_{name}_{label}"] = theirs / mine
    return s


def report(s, group):
    print(f"side {s['side']} ({s['edges']} edges), R = {s['rank']}:", file=sys.stderr)
    for (name, config), v in sorted(group.items(), key=lambda x: (x[0][0], x[0][1] or "")):
        skipped = v.get("skipped") or v.get("torch_skipped")
        rss = v.get("peak_rss_bytes") or v.get("torch_peak_rss_bytes")
        where = config or "all cores"
        if skipped:
            print(f"  {name:20s} {where:9s} {skipped}", file=sys.stderr)
            continue
        extra = ""
        if v.get("torch_step_s_1thread"):
            extra = f", 1 thread {v['torch_step_s_1thread'] * 1e3:.1f} ms"
        print(f"  {name:20s} {where:9s} step {v['step_s'] * 1e3:9.1f} ms{extra}, peak RSS "
              f"{rss / 1e9:.3f} GB", file=sys.stderr)
    for key, value in s.items():
        if key.startswith("speedup_"):
            print(f"  {key}: {value:.2f}x", file=sys.stderr)
    if "memory_ratio_materialized_over_factored" in s:
        print(f"  working memory: materialized / factored = "
              f"{s['memory_ratio_materialized_over_factored']:.1f}x", file=sys.stderr)


def main():
    variants = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    for v in variants:
        v["variant"] = ("karman_" + v["path"]) if "path" in v else ("torch_" + v["torch_variant"])
        v["step_s"] = v.get("step_s", v.get("torch_step_s"))
    summary = []
    for side, rank in sorted({(v["side"], v["rank"]) for v in variants}):
        group = {(v["variant"], v.get("karman_config")): v for v in variants
                 if (v["side"], v["rank"]) == (side, rank)}
        s = summarize(side, rank, group)
        report(s, group)
        summary.append(s)
    torch_runs = [v for v in variants if "torch_config" in v]
    result = {
        "variants": variants,
        "summary": summary,
        "budget_gb": float(sys.argv[2]),
        "karman_node_reason": sys.argv[3] or None,
        "torch_config": torch_runs[0]["torch_config"] if torch_runs else None,
        "torch_config_1thread": torch_runs[0].get("torch_config_1thread") if torch_runs else None,
        "allow_slow_torch": any(v["torch_config"].get("allow_slow_torch") for v in torch_runs),
        "machine": next((v["machine"] for v in variants if "machine" in v), None),
        "date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if sys.argv[3]:
        print(f"Karman node: not run ({sys.argv[3]})", file=sys.stderr)
    if torch_runs:
        print(f"PyTorch all cores: {describe_torch(result['torch_config'])}", file=sys.stderr)
        print(f"PyTorch 1 thread: {describe_torch(result['torch_config_1thread'])}",
              file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
