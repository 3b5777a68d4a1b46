#!/usr/bin/python3
"""Run one Karman benchmark binary at 1 rank x 1 thread and on the whole node, merge with PyTorch.

    tools/bench/run_configs.py --name pinn --binary BUILD/bin/bench_pinn [--torch-json FILE]
        [--speedup KARMAN_KEY=TORCH_KEY ...] [-- binary arguments]

Karman runs (each its own process, human-readable lines passed through to stderr):
  1x1   OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1: one rank, one Kokkos thread, one BLAS thread.
  node  ranks x threads = cores. With a Kokkos whose default execution space is threaded (a build
        against Kokkos_ROOT=/work/scratch/kokkos-omp, say), 1 rank x nproc threads
        (OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = nproc, OMP_PROC_BIND=false unless set). With
        Debian's Serial Kokkos it would take nproc ranks, but the bench binaries time one rank's
        step and do not run data-parallel under mpiexec: the node figure is then null and
        karman_node_reason says why.
The build's execution space is asked first (BINARY --execution-config, at nproc threads).
PyTorch: --torch-json is the file holding torch_env's torch_run line (all cores, and the 1-thread
run's keys with _1thread); the speedups are torch time / Karman time for every --speedup pair:
  speedup_node_vs_torch_all_cores   Karman node against PyTorch at threads = cores,
  speedup_1x1_vs_torch_1thread      Karman 1x1 against PyTorch at 1 thread.
Prints ONE JSON object on the last line of stdout: benchmark, karman_1x1, karman_node (or null),
[karman_node_reason], torch (the peer's figures, or null), torch_config, torch_config_1thread,
allow_slow_torch, the two speedup objects, date. Every Karman JSON carries "execution" (ranks,
threads, kokkos_execution_space, blas_threads: the binary's own record of how it ran).
"""

import argparse
import datetime
import json
import os
import subprocess
import sys


def run_binary(binary, args, threads):
    """The binary at `threads` OpenMP and BLAS threads; its last stdout line as JSON."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    env.setdefault("OMP_PROC_BIND", "false")
    out = subprocess.run([binary, *args], env=env, check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    lines = out.strip().splitlines()
    for line in lines[:-1]:
        print(line, file=sys.stderr)
    return json.loads(lines[-1])


def node_plan(binary, name, cores):
    """(threads, None) for a threaded build; (None, reason) when there is no node run."""
    config = run_binary(binary, ["--execution-config"], cores)
    if config["threads"] >= cores:
        return cores, None
    return None, (
        f"Kokkos {config['kokkos_execution_space']} build ({config['threads']} thread per rank): "
        f"bench_{name} times one rank and does not run data-parallel under mpiexec, so the node "
        f"figure needs a build against a threaded Kokkos (e.g. cmake -B build-omp "
        f"-DKokkos_ROOT=/work/scratch/kokkos-omp, then KARMAN_BUILD_DIR=build-omp)")


def describe_torch(config):
    """One line of what a PyTorch run was (torch_config.py's record)."""
    if not config:
        return "not run"
    blas = config.get("blas", {})
    slow = f", FELL BACK: {'; '.join(config['fallbacks'])}" if config.get("fallbacks") else ""
    return (f"{config.get('threads')} thread(s), {config.get('interop_threads')} interop, BLAS "
            f"{blas.get('sgemm_from')} ({blas.get('openblas_parallel')}, "
            f"{blas.get('openblas_threads')} threads), malloc {config.get('malloc')}, ATen "
            f"{config.get('cpu_capability')}{slow}")


def describe_karman(result):
    """One line of how a Karman run ran (the binary's "execution" record)."""
    if result is None:
        return "not run"
    e = result.get("execution", {})
    return (f"{e.get('ranks')} rank(s) x {e.get('threads')} thread(s), Kokkos "
            f"{e.get('kokkos_execution_space')}, {e.get('blas_threads')} BLAS thread(s)")


def speedups(torch, karman, pairs, suffix):
    if torch is None or karman is None:
        return None
    result = {}
    for karman_key, torch_key in pairs:
        k, t = karman.get(karman_key), torch.get(torch_key + suffix)
        if isinstance(k, (int, float)) and isinstance(t, (int, float)) and k > 0:
            result[karman_key] = t / k
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--torch-json", default="")
    parser.add_argument("--speedup", action="append", default=[])
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    a = parser.parse_args(argv[:cut])
    extra = argv[cut + 1:]
    pairs = [tuple(p.split("=", 1)) for p in a.speedup]
    cores = os.cpu_count()

    torch = None
    if a.torch_json and os.path.getsize(a.torch_json) > 0:
        torch = json.loads(open(a.torch_json).read().strip().splitlines()[-1])
    node_threads, node_reason = node_plan(a.binary, a.name, cores)
    print(f"== Karman 1 rank x 1 thread ({a.binary})", file=sys.stderr)
    one = run_binary(a.binary, extra, 1)
    node = None
    if node_threads:
        print(f"== Karman node: 1 rank x {node_threads} threads", file=sys.stderr)
        node = run_binary(a.binary, extra, node_threads)
    else:
        print(f"== Karman node: not run ({node_reason})", file=sys.stderr)

    result = {"benchmark": a.name, "karman_1x1": one, "karman_node": node}
    if node_reason:
        result["karman_node_reason"] = node_reason
    configs = {}
    if torch is not None:
        configs = {k: torch.pop(k, None) for k in ("torch_config", "torch_config_1thread")}
    result["torch"] = torch
    result.update(configs)
    result["allow_slow_torch"] = any(c and c.get("allow_slow_torch") for c in configs.values())
    result["speedup_node_vs_torch_all_cores"] = speedups(torch, node, pairs, "")
    result["speedup_1x1_vs_torch_1thread"] = speedups(torch, one, pairs, "_1thread")
    result["date"] = datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"Karman 1x1:  {describe_karman(one)}", file=sys.stderr)
    print(f"Karman node: {describe_karman(node)}", file=sys.stderr)
    if torch is not None:
        print(f"PyTorch {torch.get('torch_version')} all cores: "
              f"{describe_torch(configs.get('torch_config'))}", file=sys.stderr)
        print(f"PyTorch 1 thread: {describe_torch(configs.get('torch_config_1thread'))}",
              file=sys.stderr)
    for label in ("speedup_node_vs_torch_all_cores", "speedup_1x1_vs_torch_1thread"):
        for key, value in (result[label] or {}).items():
            print(f"{label} {key}: {value:.2f}x", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
