#!/usr/bin/python3
"""PyTorch peer of tools/bench/gno: one training step of the graph kernel network's layer.

The layer of Li et al. (2020), as the reference GKN code runs it (torch_geometric's NNConv with
mean aggregation), written with plain tensors and index_add_ (no PyTorch Geometric), on the same
workload as tools/bench/gno.cpp: a side × side grid on [0, 1]², its radius graph at radius 0.1
(every ordered pair i ≠ j closer than 0.1; row = receiver i, col = sender j), width w = 64,
kernel rank R (the kernel network's last hidden width), float32, random inputs v [N, w],
g = |N(0, 1)| [E, R] (timing only). Variants (--variant):
  reference  κ = (g Θ_w + Θ_b).view(E, w, w)           the kernel network's last Linear, per edge
             m = bmm(v[col].unsqueeze(1), κ)            [E, w]
             v' = index_add_(m over receivers) / deg + v W + b
  factored   the factoring Karman uses, in PyTorch: P = v theta [N, (R + 1)·w] viewed as
             [N·(R + 1), w], and a = M P with M the sparse [N, N·(R + 1)] matrix of entries
             g̃_kr / deg_i at (i, j·(R + 1) + r) (torch.sparse.mm; g̃ = [g, 1]); no [E, w, w]
             tensor. Same numbers.
Training step = zero_grad + forward + MSE loss against a random target + backward (gradients of
v, g and the parameters). After WARMUP steps, --repeats steps are timed one by one
(time.perf_counter); the median is reported, at --threads (tools/bench/torch_env runs it at
threads = cores and at 1 thread, each in its own process; the 1-thread keys get the suffix
_1thread). A variant whose estimated memory exceeds --budget-gb is not run (its JSON says
so, with the estimate: see estimated_bytes). Peak RSS: resource.getrusage of this process (one variant per process).

Run through tools/bench/gno (tools/bench/torch_env sets the fastest configuration, which
torch_config.apply verifies: the run exits 3 if it fell back).
Human-readable lines go to stderr; stdout is ONE JSON line.
"""

import argparse
import json
import resource
import statistics
import sys
import time

import torch
import torch_config

WARMUP = 1
WIDTH = 64
RADIUS = 0.1


def radius_graph(side):
    """Receivers, senders (by receiver, then sender) of the side × side grid's radius graph."""
    t = torch.arange(side, dtype=torch.float64) / (side - 1)
    y, x = torch.meshgrid(t, t, indexing="ij")
    points = torch.stack([x.reshape(-1), y.reshape(-1)], dim=1)
    # Σ_d (x_i,d − x_j,d)² in order against r², as mesh::radius_graph: the same edges.
    diff = points.unsqueeze(1) - points.unsqueeze(0)
    squared = diff[..., 0] ** 2 + diff[..., 1] ** 2
    mask = squared < RADIUS * RADIUS
    mask.fill_diagonal_(False)
    row, col = mask.nonzero(as_tuple=True)
    return points.shape[0], row, col


def estimated_bytes(variant, nodes, edges, rank):
    """The variant's peak memory, float32, calibrated on the 31 × 31 runs' peak RSS (less the
    ~0.4 GB of the libraries): the reference holds ~4 tensors [E, w, w] (κ, its gradient and
    autograd's copies), the sparse factoring ~450 bytes per nonzero of M (torch.sparse.mm's
    backward with respect to M's values)."""
    w = WIDTH
    base = 4 * (edges * rank * 2 + nodes * w * 6)  # g, dg; v, v', target, grads
    if variant == "reference":
        return base + 4 * (4 * edges * w * w + 4 * edges * w)
    return base + 4 * (2 * nodes * (rank + 1) * w) + 450 * edges * (rank + 1)


class Reference(torch.nn.Module):
    def __init__(self, rank):
        super().__init__()
        self.kernel = torch.nn.Linear(rank, WIDTH * WIDTH)
        self.root = torch.nn.Linear(WIDTH, WIDTH)

    def forward(self, v, g, row, col, inverse_degree):
        kappa = self.kernel(g).view(-1, WIDTH, WIDTH)  # [E, in, out]
        messages = torch.bmm(v[col].unsqueeze(1), kappa).squeeze(1)  # [E, w]
        a = torch.zeros_like(v).index_add_(0, row, messages) * inverse_degree
        return a + self.root(v)


class Factored(torch.nn.Module):
    def __init__(self, rank, nodes, row, col):
        super().__init__()
        self.rank = rank
        self.nodes = nodes
        self.theta = torch.nn.Parameter(torch.randn(WIDTH, (rank + 1) * WIDTH) / WIDTH**1.5)
        self.root = torch.nn.Linear(WIDTH, WIDTH)
        r1 = rank + 1
        q = torch.arange(r1)
        self.indices = torch.stack(
            [row.repeat_interleave(r1), (col.unsqueeze(1) * r1 + q).reshape(-1)]
        )

    def forward(self, v, g, row, col, inverse_degree):
        r1 = self.rank + 1
        g1 = torch.cat([g, torch.ones(g.shape[0], 1)], dim=1) * inverse_degree[row]  # [E, R + 1]
        m = torch.sparse_coo_tensor(self.indices, g1.reshape(-1), (self.nodes, self.nodes * r1))
        p = (v @ self.theta).view(self.nodes * r1, WIDTH)
        return torch.sparse.mm(m, p) + self.root(v)


def measure(model, v, g, target, row, col, inverse_degree, repeats):
    steps, forwards = [], []
    loss = None
    for k in range(WARMUP + repeats):
        t0 = time.perf_counter()
        model.zero_grad(set_to_none=False)
        v.grad = None
        g.grad = None
        out = model(v, g, row, col, inverse_degree)
        loss = torch.nn.functional.mse_loss(out, target)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        if k >= WARMUP:
            steps.append(t2 - t0)
            forwards.append(t1 - t0)
    return statistics.median(steps), statistics.median(forwards), float(loss)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--side", type=int, default=61)
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--variant", choices=["reference", "factored"], default="reference")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--budget-gb", type=float, default=6.0)
    args = parser.parse_args()
    config = torch_config.apply(args.threads)
    torch.manual_seed(0)
    nodes, row, col = radius_graph(args.side)
    edges = row.shape[0]
    result = {
        "torch_variant": args.variant,
        "side": args.side,
        "nodes": nodes,
        "edges": edges,
        "width": WIDTH,
        "rank": args.rank,
        "torch_version": torch.__version__,
        "torch_threads": args.threads,
        "torch_config": config,
    }
    needed = estimated_bytes(args.variant, nodes, edges, args.rank)
    result["torch_estimated_bytes"] = needed
    print(
        f"gno_torch {args.variant}: {nodes} nodes, {edges} edges, width {WIDTH}, rank "
        f"{args.rank}: ~{needed / 1e9:.2f} GB",
        file=sys.stderr,
    )
    if needed / 1e9 > args.budget_gb:
        result["torch_skipped"] = (
            f"needs ~{needed / 1e9:.2f} GB, above the budget {args.budget_gb} GB (--budget-gb)"
        )
        print(json.dumps(result))
        return
    degree = torch.zeros(nodes).index_add_(0, row, torch.ones(edges))
    inverse_degree = (1.0 / degree.clamp(min=1)).unsqueeze(1)
    v = torch.randn(nodes, WIDTH, requires_grad=True)
    g = torch.randn(edges, args.rank).abs().requires_grad_(True)
    target = torch.randn(nodes, WIDTH)
    if args.variant == "reference":
        model = Reference(args.rank)
    else:
        model = Factored(args.rank, nodes, row, col)
    step, forward, loss = measure(model, v, g, target, row, col, inverse_degree, args.repeats)
    result["torch_step_s"] = step
    result["torch_forward_s"] = forward
    result["torch_loss"] = loss
    print(
        f"  {args.threads} thread(s): training step {step * 1e3:.1f} ms (forward + loss "
        f"{forward * 1e3:.1f} ms)",
        file=sys.stderr,
    )
    result["torch_peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
