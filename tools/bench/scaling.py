#!/usr/bin/python3
"""Strong and weak scaling of `karman run` over MPI ranks (tools/bench/scaling runs this).

    tools/bench/scaling.py --karman BUILD/bin/karman [--ranks 1,2,4] [--only NAME,...]

Workloads (each a shipped case shortened with --set; sizes: `workloads()` below):
  reference       cases/reference/poisson3d.yaml, CG + GAMG on a structured n^3 grid;
                  time = metrics.solve_s (KSP set-up + solve);
  reference_mesh  cases/reference/poisson_box_fem.yaml, P2 on meshes/box.msh refined
                  (mesh.refine); strong only: a refinement multiplies the cells by 8, so there is
                  no problem size proportional to 1, 2, 4 ranks;
  pinn            cases/pinn/poisson2d.yaml, Adam steps, data-parallel over the collocation
                  points; time = metrics.train_wall_s;
  dataset         cases/fno/darcy_dataset.yaml, Darcy samples split over the ranks;
                  time = metrics.generate_s;
  fno             cases/fno/darcy2d.yaml on the dataset generated just before (the same
                  settings, so it is read, not solved), batches split over the ranks;
                  time = metrics.train_wall_s.
When report.json has a `timings` object (seconds per stage), it is copied into the entry and its
total is not used for `time_s`: the stage metric above is.

Strong scaling: the same problem at every rank count; speedup = t(1) / t(P), efficiency =
speedup / P. Weak scaling: the problem grown with the ranks (grid points, collocation points,
samples ∝ P); efficiency = t(1) / t(P) (1 is perfect), speedup = P t(1) / t(P) (throughput).

Every entry records ranks, threads per rank and `oversubscribed`: ranks x threads > the cores
this machine has (os.cpu_count()). Oversubscribed figures time ranks sharing cores: they show
that the run works and what the communication costs, not what more cores would give.

Environment: KARMAN_BENCH_SCALING_TINY=1 (seconds-sized problems, for the test),
KARMAN_BENCH_SCALING_SCALE=k (grid points, collocation points and samples k times more; steps,
epochs and the mesh stay),
KARMAN_BENCH_RANKS=1,2,4, KARMAN_BENCH_REPEAT=r (best of r runs, default 1), OMP_NUM_THREADS
(threads per rank, default 1: pure MPI scaling), KARMAN_MPIEXEC (default mpiexec),
KARMAN_BENCH_KEEP=DIR (keep the run folders there).

Human-readable lines on stderr; ONE JSON object on the last line of stdout.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def env_flag(name):
    return os.environ.get(name, "") not in ("", "0")


def workloads(tiny, scale, max_ranks):
    """name -> (case, time metric, sizes(ranks, grow) -> (size record, --set list), has weak).

    Strong and weak start from the same one-rank problem, so the two series share t(1)."""
    def grid3(points):  # n^3 nodes closest to `points`
        return max(5, round(points ** (1.0 / 3.0)))

    ref_points = (17 ** 3 if tiny else 65 ** 3) * scale
    mesh_refine = 0 if tiny else 2
    pinn_interior, pinn_boundary = (256, 64) if tiny else (4096, 1024)
    pinn_interior, pinn_boundary = pinn_interior * scale, pinn_boundary * scale
    pinn_steps = 5 if tiny else 200
    samples = (8 if tiny else 16) * scale
    resolution, stride = (33, 4) if tiny else (129, 4)
    epochs = 1 if tiny else 10
    # Every rank needs a share of each batch (an empty share stops kind: fno).
    batch = max(4, max_ranks)

    def reference(ranks, grow):
        n = grid3(ref_points * (ranks if grow else 1))
        return {"grid.n": n}, ["--set", f"grid.n={n}"]

    def reference_mesh(ranks, grow):
        return {"mesh.refine": mesh_refine}, ["--set", f"mesh.refine={mesh_refine}"]

    def pinn(ranks, grow):
        k = ranks if grow else 1
        interior, boundary = pinn_interior * k, pinn_boundary * k
        stage = f"[{{optimizer: adam, steps: {pinn_steps}, lr: 1.0e-3}}]"
        return ({"samples.interior": interior, "samples.boundary": boundary, "adam_steps": pinn_steps},
                ["--set", f"samples.interior={interior}", "--set", f"samples.boundary={boundary}",
                 "--set", f"training.stages={stage}", "--set", f"training.log_every={pinn_steps}",
                 "--set", "training.checkpoint_every=0"])

    def dataset(ranks, grow):
        size = {"data.samples": samples * (ranks if grow else 1), "data.resolution": resolution,
                "data.stride": stride}
        return size, data_sets(size)

    def fno(ranks, grow):
        k = ranks if grow else 1
        n, b = samples * k, batch * k
        test = max(1, n // 4)
        size = {"data.samples": n, "data.resolution": resolution, "data.stride": stride,
                "data.train": n - test, "training.batch_size": b, "epochs": epochs}
        stage = f"[{{optimizer: adam, epochs: {epochs}, lr: 1.0e-3}}]"
        sets = data_sets(size) + [
            "--set", f"data.train={n - test}", "--set", f"data.test={test}",
            "--set", f"training.batch_size={b}", "--set", f"training.stages={stage}",
            "--set", f"training.validate_every={epochs}", "--set", "evaluation.baseline_samples=1"]
        if tiny:
            sets += ["--set", "model.modes=3", "--set", "model.width=8", "--set", "model.padding=0"]
        return size, sets

    return {
        "reference": ("cases/reference/poisson3d.yaml", "solve_s", reference, True),
        "reference_mesh": ("cases/reference/poisson_box_fem.yaml", "solve_s", reference_mesh, False),
        "pinn": ("cases/pinn/poisson2d.yaml", "train_wall_s", pinn, True),
        "dataset": ("cases/fno/darcy_dataset.yaml", "generate_s", dataset, True),
        "fno": ("cases/fno/darcy2d.yaml", "train_wall_s", fno, True),
    }


def mpi_command(mpiexec, ranks, oversubscribed):
    command = [mpiexec, "-n", str(ranks)]
    if oversubscribed:
        command += ["--oversubscribe", "--bind-to", "none"]
    return command


def run_env(threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    env.setdefault("OMP_PROC_BIND", "false")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # Open MPI refuses root without these
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    return env


def run_case(a, case, sets, ranks, threads, out_dir, extra_sets=()):
    """One `karman run` under mpiexec; its report.json."""
    cores = os.cpu_count() or 1
    command = mpi_command(a.mpiexec, ranks, ranks * threads > cores) + [
        a.karman, "run", os.path.join(ROOT, case), "--quiet", "--output", out_dir, *sets,
        *extra_sets]
    done = subprocess.run(command, env=run_env(threads), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout)
        raise SystemExit(f"scaling: failed ({done.returncode}): {' '.join(command)}")
    with open(os.path.join(out_dir, "report.json")) as f:
        return json.load(f)


def measure(a, name, spec, ranks, grow, threads, work, repeat, measured):
    """The entry of one workload at one rank count (best of `repeat` runs). `measured` holds the
    entries so far: the weak series' one-rank problem is the strong one's, timed once."""
    case, metric, sizes, _ = spec
    size, sets = sizes(ranks, grow)
    key = (name, ranks, json.dumps(size, sort_keys=True))
    if key in measured:
        return dict(measured[key])
    tag = f"{name}_{'weak' if grow else 'strong'}_{ranks}"
    extra = []
    if name == "fno":
        # The FNO reads a dataset made beforehand (untimed, one rank) with its data settings,
        # shared by every run with the same sample count (bitwise the same on any rank count).
        dataset = os.path.join(work, f"darcy_{size['data.samples']}.h5")
        extra = ["--set", f"data.file={dataset}"]
        if not os.path.exists(dataset):
            run_case(a, "cases/fno/darcy_dataset.yaml", data_sets(size), 1, threads,
                     dataset[:-3] + "_run", extra)
    best = None
    cores = os.cpu_count() or 1
    for r in range(repeat):
        out_dir = os.path.join(work, f"{tag}_{r}")
        if name == "dataset":  # a file of its own per run: a finished one would be reused
            extra = ["--set", f"data.file={out_dir}.h5"]
        report = run_case(a, case, sets, ranks, threads, out_dir, extra)
        metrics = report.get("metrics", {})
        time_s = metrics.get(metric, metrics.get("wall_s"))
        if best is None or time_s < best["time_s"]:
            best = {"ranks": ranks, "threads": threads,
                    "oversubscribed": ranks * threads > cores, "size": size,
                    "time_s": time_s, "time_metric": metric if metric in metrics else "wall_s",
                    "wall_s": metrics.get("wall_s"), "status": report.get("status")}
            if isinstance(report.get("timings"), dict):
                best["timings"] = report["timings"]
    measured[key] = dict(best)
    return best


def data_sets(size):
    """The --set list of a Darcy dataset of `size` (the data keys of a dataset or FNO size)."""
    return ["--set", f"data.samples={size['data.samples']}",
            "--set", f"data.resolution={size['data.resolution']}",
            "--set", f"data.stride={size['data.stride']}"]


def add_ratios(series, weak):
    base = series[0]["time_s"] if series and series[0]["ranks"] == 1 else None
    for e in series:
        p = e["ranks"]
        if not base or not e["time_s"]:
            e["speedup"] = e["efficiency"] = None
        elif weak:
            e["efficiency"] = base / e["time_s"]
            e["speedup"] = p * base / e["time_s"]
        else:
            e["speedup"] = base / e["time_s"]
            e["efficiency"] = e["speedup"] / p


def karman_execution(a, threads):
    """How the build runs a rank at `threads` (`karman info`): the `execution` record of
    tools/bench/run_configs.py, per rank."""
    done = subprocess.run([a.karman, "info"], env=run_env(threads), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, check=True)
    kokkos = re.search(r"Kokkos\s+(\S+), default execution space (\w+), (\d+) thread", done.stdout)
    blas = re.search(r"BLAS\s+.*?(\d+) thread", done.stdout)
    if not kokkos or not blas:
        raise SystemExit(f"scaling: cannot read `karman info`:\n{done.stdout}")
    return {"kokkos_version": kokkos.group(1), "kokkos_execution_space": kokkos.group(2),
            "threads": int(kokkos.group(3)), "blas_threads": int(blas.group(1))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--karman", required=True)
    parser.add_argument("--ranks", default=os.environ.get("KARMAN_BENCH_RANKS", "1,2,4"))
    parser.add_argument("--only", default="")
    a = parser.parse_args()
    a.mpiexec = os.environ.get("KARMAN_MPIEXEC", "mpiexec")
    tiny = env_flag("KARMAN_BENCH_SCALING_TINY")
    scale = int(os.environ.get("KARMAN_BENCH_SCALING_SCALE", "1"))
    repeat = int(os.environ.get("KARMAN_BENCH_REPEAT", "1"))
    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    rank_counts = [int(r) for r in a.ranks.split(",")]
    if rank_counts[0] != 1:
        raise SystemExit("scaling: the rank counts must start with 1 (the base of the ratios)")
    cores = os.cpu_count() or 1
    specs = workloads(tiny, scale, max(rank_counts))
    names = [n for n in a.only.split(",") if n] or list(specs)
    for n in names:
        if n not in specs:
            raise SystemExit(f"scaling: unknown workload '{n}' (expected one of {', '.join(specs)})")

    keep = os.environ.get("KARMAN_BENCH_KEEP", "")
    work = keep or tempfile.mkdtemp(prefix="karman_scaling_")
    os.makedirs(work, exist_ok=True)
    execution = karman_execution(a, threads)
    # A rank's Kokkos kernels and BLAS calls each use up to this many cores.
    threads = max(execution["threads"], execution["blas_threads"])
    result = {"benchmark": "scaling", "tiny": tiny, "scale": scale, "repeat": repeat,
              "cores": cores, "threads_per_rank": threads, "ranks": rank_counts,
              "execution": execution, "strong": {}, "weak": {}}
    measured = {}
    try:
        for name in names:
            spec = specs[name]
            for weak in (False, True):
                if weak and not spec[3]:
                    result["weak"][name] = None
                    continue
                series = []
                for p in rank_counts:
                    e = measure(a, name, spec, p, weak, threads, work, repeat, measured)
                    series.append(e)
                    mark = " (oversubscribed)" if e["oversubscribed"] else ""
                    print(f"{name:15s} {'weak' if weak else 'strong':6s} {p} x {threads}: "
                          f"{e['time_s']:.3f} s {e['time_metric']}{mark}", file=sys.stderr)
                add_ratios(series, weak)
                result["weak" if weak else "strong"][name] = series
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    over = sorted({e["ranks"] for s in (*result["strong"].values(), *result["weak"].values())
                   if s for e in s if e["oversubscribed"]})
    result["oversubscribed_note"] = (
        f"{cores} cores: the entries at {', '.join(map(str, over))} ranks x {threads} thread(s) "
        f"are oversubscribed (ranks share cores); their times are not scaling figures"
        if over else "no entry is oversubscribed")
    print(result["oversubscribed_note"], file=sys.stderr)
    result["date"] = datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
