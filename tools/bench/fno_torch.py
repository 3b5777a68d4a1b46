#!/usr/bin/python3
"""PyTorch baseline of tools/bench/fno: seconds per training step and per inference sample of FNO2d.

The model of the reference script fourier_2d.py (Li et al. 2021), written from its description:
grid coordinates linspace(0, 1) appended to the 1 input channel, fc0 Linear(3, 32) lift, 4 blocks
SpectralConv2d(modes 12, 12: rfft2, the two corners [:m1, :m2] and [-m1:, :m2] multiplied by
complex weights per mode (einsum "bixy,ioxy->boxy"), irfft2) + Conv2d 1×1, GELU after all but the
last block, fc1 Linear(32, 128) + GELU, fc2 Linear(128, 1). No padding (tools/bench/fno.cpp uses
none either). float32, batch 20, at 64×64 and 128×128, random inputs and targets (timing only).
One training step = zero_grad + forward + relative L2 loss (LpLoss: per-sample ||y − t|| / ||t||,
summed) + backward + Adam (lr 1e-3, weight decay 1e-4). Inference = forward of the batch under
torch.no_grad(), divided by 20. After WARMUP runs, SAMPLES runs are timed one by one
(time.perf_counter); medians are reported.

Run through tools/bench/fno (tools/bench/torch_env: at threads = cores and at 1 thread, each in
its fastest configuration, which torch_config.apply sets and verifies: the run exits 3 if it fell
back). By hand: source tools/bench/torch_env; torch_run_at N tools/bench/fno_torch.py.
Human-readable lines go to stderr; stdout is ONE JSON line:
  {"torch_train_step_s_64": ..., "torch_infer_s_per_sample_64": ..., "torch_train_step_s_128": ...,
   "torch_infer_s_per_sample_128": ..., "torch_version": ..., "torch_threads": N,
   "torch_config": {...}}
"""

import argparse
import json
import statistics
import sys
import time

import torch
import torch_config
import torch.nn.functional as F

WARMUP = 1
SAMPLES = 5  # PyTorch's 128×128 step takes tens of seconds on 2 cores
BATCH = 20
MODES = 12
WIDTH = 32
PROJECTION = 128
LAYERS = 4
GRIDS = [64, 128]
THREADS = 2


class SpectralConv2d(torch.nn.Module):
    def __init__(self, channels_in, channels_out, modes1, modes2):
        super().__init__()
        self.modes1, self.modes2 = modes1, modes2
        scale = 1 / (channels_in * channels_out)
        shape = (channels_in, channels_out, modes1, modes2)
        self.weights1 = torch.nn.Parameter(scale * torch.rand(*shape, dtype=torch.cfloat))
        self.weights2 = torch.nn.Parameter(scale * torch.rand(*shape, dtype=torch.cfloat))

    def forward(self, x):
        batch, _, n1, n2 = x.shape
        x_ft = torch.fft.rfft2(x)
        out_ft = torch.zeros(batch, self.weights1.shape[1], n1, n2 // 2 + 1,
                             dtype=torch.cfloat, device=x.device)
        m1, m2 = self.modes1, self.modes2
        out_ft[:, :, :m1, :m2] = torch.einsum("bixy,ioxy->boxy", x_ft[:, :, :m1, :m2],
                                              self.weights1)
        out_ft[:, :, -m1:, :m2] = torch.einsum("bixy,ioxy->boxy", x_ft[:, :, -m1:, :m2],
                                               self.weights2)
        return torch.fft.irfft2(out_ft, s=(n1, n2))


class FNO2d(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc0 = torch.nn.Linear(3, WIDTH)
        self.spectral = torch.nn.ModuleList(
            [SpectralConv2d(WIDTH, WIDTH, MODES, MODES) for _ in range(LAYERS)])
        self.pointwise = torch.nn.ModuleList(
            [torch.nn.Conv2d(WIDTH, WIDTH, 1) for _ in range(LAYERS)])
        self.fc1 = torch.nn.Linear(WIDTH, PROJECTION)
        self.fc2 = torch.nn.Linear(PROJECTION, 1)

    @staticmethod
    def grid(shape):
        batch, n1, n2 = shape[0], shape[1], shape[2]
        gx = torch.linspace(0, 1, n1).reshape(1, n1, 1, 1).repeat(batch, 1, n2, 1)
        gy = torch.linspace(0, 1, n2).reshape(1, 1, n2, 1).repeat(batch, n1, 1, 1)
        return torch.cat((gx, gy), dim=-1)

    def forward(self, x):  # x [B, n1, n2, 1]
        x = torch.cat((x, self.grid(x.shape)), dim=-1)
        x = self.fc0(x).permute(0, 3, 1, 2)
        for layer, (spectral, pointwise) in enumerate(zip(self.spectral, self.pointwise)):
            x = spectral(x) + pointwise(x)
            if layer + 1 < LAYERS:
                x = F.gelu(x)
        x = x.permute(0, 2, 3, 1)
        return self.fc2(F.gelu(self.fc1(x)))


def relative_l2(y, target):
    batch = y.shape[0]
    diff = torch.norm(y.reshape(batch, -1) - target.reshape(batch, -1), 2, 1)
    return torch.sum(diff / torch.norm(target.reshape(batch, -1), 2, 1))


def time_grid(n):
    torch.manual_seed(0)
    model = FNO2d()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    x = torch.randn(BATCH, n, n, 1)
    target = torch.randn(BATCH, n, n, 1)
    steps, losses = [], []
    for k in range(WARMUP + SAMPLES):
        t0 = time.perf_counter()
        optimizer.zero_grad()
        loss = relative_l2(model(x), target)
        loss.backward()
        optimizer.step()
        value = loss.item()
        t1 = time.perf_counter()
        losses.append(value)
        if k >= WARMUP:
            steps.append(t1 - t0)
    inference = []
    with torch.no_grad():
        for k in range(WARMUP + SAMPLES):
            t0 = time.perf_counter()
            model(x)
            t1 = time.perf_counter()
            if k >= WARMUP:
                inference.append((t1 - t0) / BATCH)
    step, infer = statistics.median(steps), statistics.median(inference)
    print(f"torch FNO2d {n}x{n}: train step {step * 1e3:8.2f} ms, inference "
          f"{infer * 1e3:7.3f} ms/sample (loss {losses[0]:.4g} -> {losses[-1]:.4g})",
          file=sys.stderr)
    return step, infer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=THREADS, help="torch.set_num_threads")
    config = torch_config.apply(parser.parse_args().threads)
    print(f"fno_torch: torch {torch.__version__}, {torch.get_num_threads()} threads",
          file=sys.stderr)
    result = {}
    for n in GRIDS:
        step, infer = time_grid(n)
        result[f"torch_train_step_s_{n}"] = step
        result[f"torch_infer_s_per_sample_{n}"] = infer
    result["torch_version"] = torch.__version__
    result["torch_threads"] = torch.get_num_threads()
    result["torch_config"] = config
    print(json.dumps(result))


if __name__ == "__main__":
    main()
