"""The PyTorch peers' configuration (tools/bench/*_torch.py): set it, verify it, describe it.

tools/bench/torch_env runs every peer twice, at threads = cores and at 1 thread, in what was
measured as PyTorch's fastest configuration on this machine (Debian's torch 1.13, CPU):
  - torch.set_num_threads(T), and OMP_NUM_THREADS = T in the environment (ATen's OpenMP pool and
    the OpenMP OpenBLAS both follow it); torch.set_num_interop_threads(1) (the peers run no
    inter-op parallel work; one interop thread is the least to schedule);
  - Debian's OpenMP build of OpenBLAS (libopenblas0-openmp) preloaded as libopenblas.so.0,
    libblas.so.3 and liblapack.so.3: Debian's torch is MKL-free and does its GEMMs through the
    system BLAS, whose default pthread build fights ATen's OpenMP threads for the cores;
  - glibc malloc keeping freed memory (MALLOC_MMAP_MAX_=0, MALLOC_TRIM_THRESHOLD_=64 GiB):
    without it every large temporary is an mmap/munmap pair and the steps are 3-4x slower here;
  - ATen's AVX-512 kernels (ATEN_CPU_CAPABILITY=avx512) when the CPU has AVX-512 F/BW/VL/DQ:
    Debian's torch 1.13 picks its AVX2 kernels by default; on this Xeon the AVX-512 ones took
    tanh on [20480, 64] from 13-20 to 10-11 ms and exp from 1.5-1.7 to 0.9-1.1 ms (1 thread, three
    alternating runs, 2026-12-06), and Karman is built for AVX-512 too.
Measured and not kept: torch.compile does not exist in torch 1.13; torch.jit.script does not
take the PINN's nested autograd.grad(create_graph=True) and was not tried on the others;
OMP_PROC_BIND/OMP_PLACES, GOMP_SPINCOUNT/OMP_WAIT_POLICY and channels_last for the FNO's 1x1
convolutions could not be measured meaningfully on 2026-12-06 (load 13-16 on the 2 shared cores:
any spin-wait setting measures the other tenants), so torch_env sets none of them; the JSON's
torch_config.env records them when the user sets them.
apply(threads) sets what the process itself sets and then VERIFIES what it runs: that the BLAS
symbol torch's GEMMs resolve to (sgemm_) lives in the OpenMP OpenBLAS mapped in this process
(/proc/self/maps, dladdr), that OpenBLAS reports its OpenMP build and T threads, that
torch.get_num_threads() is T, that the malloc variables hold the values above. When anything fell
back it prints ONE line "torch_config: fell back: ..." on stderr and exits with status 3, unless
KARMAN_BENCH_ALLOW_SLOW_TORCH=1, in which case the run goes on and the returned configuration says
so ("fallbacks", "allow_slow_torch"). The returned dict is the JSON's torch_config.
"""

import ctypes
import ctypes.util
import os
import sys

import torch

OPENMP_OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0"
MALLOC_SETTINGS = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "68719476736"}
ALLOW_SLOW = "KARMAN_BENCH_ALLOW_SLOW_TORCH"
OPENBLAS_PARALLEL = {0: "sequential", 1: "pthreads", 2: "openmp"}


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def mapped_blas_libraries():
    """Paths of the BLAS libraries mapped in this process (from /proc/self/maps)."""
    paths = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            name = os.path.basename(path)
            if "blas" in name or "mkl" in name:
                paths.add(os.path.realpath(path))
    return sorted(paths)


def resolved_library(symbol):
    """The file the process-wide symbol resolves to (dlsym(RTLD_DEFAULT) + dladdr), or None."""
    process = ctypes.CDLL(None)
    try:
        address = ctypes.cast(getattr(process, symbol), ctypes.c_void_p).value
    except AttributeError:
        return None
    info = _DlInfo()
    libdl = ctypes.CDLL(ctypes.util.find_library("dl") or None)
    if not libdl.dladdr(ctypes.c_void_p(address), ctypes.byref(info)) or not info.dli_fname:
        return None
    return os.path.realpath(info.dli_fname.decode())


def openblas_call(name):
    """An int-returning OpenBLAS query through the process-wide symbol, or None."""
    try:
        function = getattr(ctypes.CDLL(None), name)
    except AttributeError:
        return None
    function.restype = ctypes.c_int
    return function()


def cpu_capability():
    """The kernels ATen dispatches to (torch 1.13 says it only in its build summary)."""
    marker = "CPU capability usage: "
    text = torch.__config__.show()
    return text.split(marker, 1)[1].split()[0] if marker in text else None


def cpu_has_avx512():
    """AVX-512 F, BW, VL and DQ: what ATen's AVX512 kernels need."""
    with open("/proc/cpuinfo") as info:
        flags = next((line.split() for line in info if line.startswith("flags")), [])
    return all(f"avx512{x}" in flags for x in ("f", "bw", "vl", "dq"))


def describe(threads):
    """The configuration this process runs, as the JSON records it."""
    sgemm = resolved_library("sgemm_")
    parallel = openblas_call("openblas_get_parallel")
    return {
        "threads": torch.get_num_threads(),
        "requested_threads": threads,
        "interop_threads": torch.get_num_interop_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "blas": {
            "sgemm_from": sgemm,
            "openblas_parallel": OPENBLAS_PARALLEL.get(parallel, parallel),
            "openblas_threads": openblas_call("openblas_get_num_threads"),
            "mapped": mapped_blas_libraries(),
        },
        "malloc": {k: os.environ.get(k) for k in MALLOC_SETTINGS},
        "cpu_capability": cpu_capability(),
        "env": {k: os.environ[k] for k in ("ATEN_CPU_CAPABILITY", "OMP_PROC_BIND", "OMP_PLACES",
                                           "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
                if k in os.environ},
        "torch_version": torch.__version__,
    }


def fallbacks(config):
    """What in `config` is not the configuration the comparisons must use (empty: none)."""
    found = []
    threads = config["requested_threads"]
    blas = config["blas"]
    if os.path.realpath(OPENMP_OPENBLAS) not in blas["mapped"]:
        found.append(f"{OPENMP_OPENBLAS} is not mapped (LD_PRELOAD it; apt-get install "
                     f"libopenblas0-openmp)")
    others = [p for p in blas["mapped"] if "openblas" in p and "openblas-openmp" not in p]
    if others:
        found.append(f"a non-OpenMP OpenBLAS is mapped too ({', '.join(others)}; preload "
                     f"openblas-openmp/libblas.so.3 and liblapack.so.3 as well)")
    if blas["sgemm_from"] != os.path.realpath(OPENMP_OPENBLAS):
        found.append(f"sgemm_ resolves to {blas['sgemm_from']}, not the OpenMP OpenBLAS")
    elif blas["openblas_parallel"] != "openmp":
        found.append(f"OpenBLAS reports a {blas['openblas_parallel']} build, not openmp")
    elif blas["openblas_threads"] != threads:
        found.append(f"OpenBLAS runs {blas['openblas_threads']} threads, not {threads}")
    if config["threads"] != threads:
        found.append(f"torch.get_num_threads() is {config['threads']}, not {threads}")
    if config["omp_num_threads"] != str(threads):
        found.append(f"OMP_NUM_THREADS is {config['omp_num_threads']}, not {threads}")
    if cpu_has_avx512() and config["cpu_capability"] != "AVX512":
        found.append(f"ATen runs its {config['cpu_capability']} kernels on an AVX-512 CPU "
                     f"(ATEN_CPU_CAPABILITY=avx512)")
    for key, value in MALLOC_SETTINGS.items():
        if config["malloc"][key] != value:
            found.append(f"{key} is {config['malloc'][key]}, not {value}")
    return found


def apply(threads):
    """Set `threads` (intra-op) and one interop thread, verify the whole configuration; exit 3
    with one line on stderr if it fell back (unless KARMAN_BENCH_ALLOW_SLOW_TORCH=1)."""
    torch.set_num_interop_threads(1)
    torch.set_num_threads(threads)
    # A small product first, so that OpenBLAS has set up its threads before it is asked.
    torch.ones(64, 64) @ torch.ones(64, 64)
    config = describe(threads)
    found = fallbacks(config)
    allow = os.environ.get(ALLOW_SLOW, "") not in ("", "0")
    config["allow_slow_torch"] = allow
    config["fallbacks"] = found
    if found and not allow:
        print(f"torch_config: fell back: {'; '.join(found)} (set {ALLOW_SLOW}=1 to measure "
              f"anyway, recorded in the JSON)", file=sys.stderr)
        sys.exit(3)
    if found:
        print(f"torch_config: WARNING, measuring a slower configuration ({ALLOW_SLOW}=1): "
              f"{'; '.join(found)}", file=sys.stderr)
    return config


if __name__ == "__main__":
    # `torch_config.py --threads T`: apply and verify only, print the configuration as one JSON
    # line (tests/bench/torch_config_check.sh runs it through torch_env's torch_run_at).
    import argparse
    import json
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    print(json.dumps(apply(parser.parse_args().threads)))
