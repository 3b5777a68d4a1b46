#!/usr/bin/python3
"""PyTorch baseline of tools/bench/mppde: one training step and one inference of MP-PDE's processor.

The processor of Brandstetter et al. (2022) as tools/bench/mppde.cpp runs it, written from the
paper's description with plain tensors and index_add_ scatter (no PyTorch Geometric): 6 message-
passing layers, hidden 128, SiLU (Swish), mean aggregation, residual node update, instance
normalisation per sample after each layer. Node input of a layer: [h (128), θ (4)]; edge features
e = [u_i − u_j (25), x_i − x_j (2)], the same for every layer;
  m_ij = SiLU(L2(SiLU(L1([h_i, θ_i, h_j, θ_j, e_ij]))))      L1: 291 → 128, L2: 128 → 128
  a_i  = Σ_{j → i} m_ij / degree_i                           (index_add_ over the receivers)
  h_i ← InstanceNorm(h_i + SiLU(L4(SiLU(L3([h_i, θ_i, a_i])))))  L3: 260 → 128, L4: 128 → 128
Graph: a 64 × 64 periodic grid, each node receiving from its 8 Moore neighbours, batch 4: 16,384
nodes, 131,072 directed edges; float32; inputs random (timing only). Two formulations of L1, both
timed, the faster reported as the peer:
  concat  L1 on the formed [E, 291] edge input (what MP-PDE's PyG code does),
  split   L1's weight split by blocks: (h W_i)[receivers] + (h W_j)[senders] + e W_e + b (the
          formulation Karman uses; same numbers).
Training step = zero_grad + forward + MSE loss against a random target + backward + AdamW (lr 1e-4,
weight decay 1e-2). Inference = forward under torch.no_grad(). After WARMUP runs, SAMPLES runs are
timed one by one (time.perf_counter); medians are reported.

Run through tools/bench/mppde (tools/bench/torch_env: at threads = cores and at 1 thread, each in
its own process and fastest configuration, which torch_config.apply sets and verifies: the run
exits 3 if it fell back; torch_env gives the 1-thread run's keys the suffix _1thread).
By hand: source tools/bench/torch_env; torch_run_at N tools/bench/mppde_torch.py.
Human-readable lines go to stderr; stdout is ONE JSON line:
  {"torch_train_step_s": ..., "torch_infer_s": ..., "torch_variant": "split" | "concat",
   "torch_train_step_s_concat": ..., "torch_infer_s_concat": ..., "torch_train_step_s_split": ...,
   "torch_infer_s_split": ..., "torch_version": ..., "torch_threads": N, "torch_config": {...}}
"""

import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F
import torch_config

WARMUP = 1
SAMPLES = 5
SIDE = 64
BATCH = 4
HIDDEN = 128
LAYERS = 6
CONDITION = 4
TIME_WINDOW = 25
DIMS = 2
EPS = 1e-5


def grid_graph():
    """Receivers and senders of the batch of periodic 64 × 64 grids, 8 neighbours each."""
    n = SIDE * SIDE
    index = torch.arange(BATCH * n).reshape(BATCH, SIDE, SIDE)
    receivers, senders, offsets = [], [], []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == 0 and dx == 0:
                continue
            receivers.append(index.reshape(-1))
            senders.append(torch.roll(index, shifts=(-dy, -dx), dims=(1, 2)).reshape(-1))
            offsets.append(torch.tensor([dx, dy], dtype=torch.float32).repeat(BATCH * n, 1))
    # x_i − x_j of a periodic grid of spacing 1/64: −(dx, dy)/64 (minimum image).
    return torch.cat(receivers), torch.cat(senders), -torch.cat(offsets) / SIDE


class Layer(torch.nn.Module):
    def __init__(self, split):
        super().__init__()
        width = HIDDEN + CONDITION
        self.split = split
        self.l1 = torch.nn.Linear(2 * width + TIME_WINDOW + DIMS, HIDDEN)
        self.l2 = torch.nn.Linear(HIDDEN, HIDDEN)
        self.l3 = torch.nn.Linear(width + HIDDEN, HIDDEN)
        self.l4 = torch.nn.Linear(HIDDEN, HIDDEN)

    def first_linear(self, hc, e, receivers, senders):
        if not self.split:
            return self.l1(torch.cat((hc[receivers], hc[senders], e), -1))
        width = hc.shape[1]
        w = self.l1.weight  # [128, 291]: blocks of h_i, h_j, e
        hw_i = hc @ w[:, :width].t()
        hw_j = hc @ w[:, width:2 * width].t()
        return hw_i[receivers] + hw_j[senders] + torch.addmm(self.l1.bias, e, w[:, 2 * width:].t())

    def forward(self, h, theta, e, receivers, senders, inverse_degree):
        hc = torch.cat((h, theta), -1)
        m = F.silu(self.l2(F.silu(self.first_linear(hc, e, receivers, senders))))
        a = torch.zeros(h.shape[0], HIDDEN, dtype=h.dtype).index_add_(0, receivers, m)
        a = a * inverse_degree
        h = h + F.silu(self.l4(F.silu(self.l3(torch.cat((hc, a), -1)))))
        # Instance norm per sample (biased variance, no affine): PyG's InstanceNorm on equal-size
        # graphs, as one reshape.
        hb = h.view(BATCH, -1, HIDDEN)
        var, mean = torch.var_mean(hb, dim=1, unbiased=False, keepdim=True)
        return ((hb - mean) / torch.sqrt(var + EPS)).view(-1, HIDDEN)


class Processor(torch.nn.Module):
    def __init__(self, split):
        super().__init__()
        self.layers = torch.nn.ModuleList([Layer(split) for _ in range(LAYERS)])

    def forward(self, h, theta, e, receivers, senders, inverse_degree):
        for layer in self.layers:
            h = layer(h, theta, e, receivers, senders, inverse_degree)
        return h


def inputs():
    torch.manual_seed(0)
    receivers, senders, dx = grid_graph()
    nodes = BATCH * SIDE * SIDE
    u = torch.randn(nodes, TIME_WINDOW)
    e = torch.cat((u[receivers] - u[senders], dx), -1)
    theta = torch.randn(BATCH, 1, CONDITION).repeat(1, SIDE * SIDE, 1).reshape(nodes, CONDITION)
    degree = torch.zeros(nodes).index_add_(0, receivers, torch.ones(receivers.shape[0]))
    return (torch.randn(nodes, HIDDEN), theta, e, receivers, senders,
            (1 / degree).reshape(nodes, 1), torch.randn(nodes, HIDDEN))


def time_variant(split, data):
    h0, theta, e, receivers, senders, inverse_degree, target = data
    torch.manual_seed(1)
    model = Processor(split)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-2)
    args = (theta, e, receivers, senders, inverse_degree)
    steps, losses = [], []
    for k in range(WARMUP + SAMPLES):
        t0 = time.perf_counter()
        optimizer.zero_grad()
        loss = F.mse_loss(model(h0, *args), target)
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
            model(h0, *args)
            t1 = time.perf_counter()
            if k >= WARMUP:
                inference.append(t1 - t0)
    step, infer = statistics.median(steps), statistics.median(inference)
    name = "split" if split else "concat"
    print(f"torch MP-PDE processor ({name}, {torch.get_num_threads()} threads): train step "
          f"{step * 1e3:8.1f} ms, inference {infer * 1e3:7.1f} ms (loss {losses[0]:.4g} -> "
          f"{losses[-1]:.4g})", file=sys.stderr)
    return step, infer


def measure(data, suffix):
    result = {}
    for split in (False, True):
        name = "split" if split else "concat"
        step, infer = time_variant(split, data)
        result[f"torch_train_step_s_{name}{suffix}"] = step
        result[f"torch_infer_s_{name}{suffix}"] = infer
    best = min(("concat", "split"), key=lambda v: result[f"torch_train_step_s_{v}{suffix}"])
    result[f"torch_variant{suffix}"] = best
    result[f"torch_train_step_s{suffix}"] = result[f"torch_train_step_s_{best}{suffix}"]
    result[f"torch_infer_s{suffix}"] = min(result[f"torch_infer_s_{v}{suffix}"]
                                           for v in ("concat", "split"))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    threads = parser.parse_args().threads
    config = torch_config.apply(threads)
    print(f"mppde_torch: torch {torch.__version__}, {torch.get_num_threads()} threads",
          file=sys.stderr)
    data = inputs()
    print(f"graph: {data[0].shape[0]} nodes, {data[3].shape[0]} edges", file=sys.stderr)
    result = measure(data, "")
    result["torch_version"] = torch.__version__
    result["torch_threads"] = threads
    result["torch_config"] = config
    print(json.dumps(result))


if __name__ == "__main__":
    main()
