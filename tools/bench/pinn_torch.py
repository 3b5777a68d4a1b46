#!/usr/bin/python3
"""PyTorch baseline of tools/bench/pinn: seconds per Adam step of the same Poisson 2D PINN.

-Δu = 2π² sin(πx) sin(πy) on (0,1)², u = 0 on the boundary. MLP 2-64-64-64-64-1 with tanh
(Xavier-uniform weights, zero biases), input mapped to [-1, 1]² as Karman does; 4096 interior
and 1024 boundary points, uniform random (boundary: uniform over the perimeter). Loss = mean
squared residual + 100 × mean squared boundary value (the weights of cases/pinn/poisson2d.yaml),
the Laplacian by nested reverse mode: ∇u = grad(u), then u_xx and u_yy by two more
torch.autograd.grad calls, all with create_graph=True. One step = zero_grad + loss + backward +
Adam step (lr 1e-3). After WARMUP steps, SAMPLES steps are timed one by one
(time.perf_counter); the median is reported, for float32 and float64.

Run through tools/bench/pinn (tools/bench/torch_env: at threads = cores and at 1 thread, each in
its fastest configuration, which torch_config.apply sets and verifies: the run exits 3 if it fell
back). By hand: source tools/bench/torch_env; torch_run_at N tools/bench/pinn_torch.py.
Human-readable lines go to stderr; stdout is ONE JSON line:
  {"torch_adam_step_s_f32": ..., "torch_adam_step_s_f64": ..., "torch_version": ...,
   "torch_threads": N, "torch_config": {...}}
"""

import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch_config

WARMUP = 5
SAMPLES = 31
N_INTERIOR = 4096
N_BOUNDARY = 1024
WIDTHS = [2, 64, 64, 64, 64, 1]
BOUNDARY_WEIGHT = 100.0
THREADS = 2


def make_mlp(dtype):
    layers = []
    for i in range(len(WIDTHS) - 1):
        linear = torch.nn.Linear(WIDTHS[i], WIDTHS[i + 1])
        torch.nn.init.xavier_uniform_(linear.weight)
        torch.nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i + 2 < len(WIDTHS):
            layers.append(torch.nn.Tanh())
    return torch.nn.Sequential(*layers).to(dtype)


def make_points(dtype, generator):
    interior = torch.rand(N_INTERIOR, 2, generator=generator, dtype=dtype)
    face = torch.randint(0, 4, (N_BOUNDARY,), generator=generator)
    s = torch.rand(N_BOUNDARY, generator=generator, dtype=dtype)
    fixed = (face % 2).to(dtype)  # faces 0, 2 at 0; faces 1, 3 at 1
    along_x = face < 2  # faces 0, 1: y fixed, x = s
    boundary = torch.stack(
        [torch.where(along_x, s, fixed), torch.where(along_x, fixed, s)], dim=1)
    return interior, boundary


def time_steps(dtype):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    model = make_mlp(dtype)
    interior, boundary = make_points(dtype, generator)
    interior.requires_grad_(True)
    f = 2 * math.pi**2 * torch.sin(math.pi * interior[:, 0]) * torch.sin(math.pi * interior[:, 1])
    f = f.detach()
    g = torch.zeros(N_BOUNDARY, 1, dtype=dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss_fn():
        u = model(2 * interior - 1)
        du = torch.autograd.grad(u.sum(), interior, create_graph=True)[0]
        u_xx = torch.autograd.grad(du[:, 0].sum(), interior, create_graph=True)[0][:, 0]
        u_yy = torch.autograd.grad(du[:, 1].sum(), interior, create_graph=True)[0][:, 1]
        residual = -(u_xx + u_yy) - f
        boundary_error = model(2 * boundary - 1) - g
        return (residual**2).mean() + BOUNDARY_WEIGHT * (boundary_error**2).mean()

    times, losses = [], []
    for k in range(WARMUP + SAMPLES):
        t0 = time.perf_counter()
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimizer.step()
        value = loss.item()  # (the CPU backend is synchronous; this only reads the number)
        t1 = time.perf_counter()
        losses.append(value)
        if k >= WARMUP:
            times.append(t1 - t0)
    step = statistics.median(times)
    name = "float32" if dtype == torch.float32 else "float64"
    print(f"torch Adam step {name:7s} {step * 1e3:8.3f} ms  (loss {losses[0]:.4g} -> "
          f"{losses[-1]:.4g} over {WARMUP + SAMPLES} steps)", file=sys.stderr)
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=THREADS, help="torch.set_num_threads")
    config = torch_config.apply(parser.parse_args().threads)
    print(f"pinn_torch: torch {torch.__version__}, {torch.get_num_threads()} threads",
          file=sys.stderr)
    result = {
        "torch_adam_step_s_f32": time_steps(torch.float32),
        "torch_adam_step_s_f64": time_steps(torch.float64),
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_config": config,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
