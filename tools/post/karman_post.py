#!/usr/bin/python3
"""Figures and a self-contained HTML report of finished Karman run folders (`karman post`).

    karman_post.py RUN_DIR                      # RUN_DIR/post/*.png and RUN_DIR/post/index.html
    karman_post.py RUN_A RUN_B [--output DIR]   # each run's post/, and the comparison in DIR
                                                # (default RUN_A/post/compare/)

What is drawn depends on what the run folder holds, so every kind gets its figures:
- fields.h5: each (prediction | reference | error) triple side by side, prediction and reference
  on one colour scale (mesh fields on their triangles), the other fields in one figure;
  /snapshots: the solution along time and the error's norm along time;
  /convergence: the KSP residual histories (the PETSc baseline's, the learned solver's);
- history.csv: loss (and each loss term), learning rate, gradient norm and validation error per
  step, on log axes;
- report.json: the report table; FNO per-sample test errors (histogram) and super-resolution;
  the learned preconditioner's iterations and times per matrix and PC; the MP-PDE's accumulated
  error beside its baselines;
- dataset.h5 (kind dataset): the first samples' inputs and outputs.

Every figure is FIGURE_WIDTH pixels wide and PANEL_HEIGHT pixels per row of panels, so a test
can check their size; the PNGs are embedded in index.html as data URIs (no network needed).
Matplotlib's Agg backend only: it runs on a machine without a display.
"""
import argparse
import base64
import csv
import html
import json
import math
import pathlib
import sys
import warnings

try:
    import h5py
    import matplotlib
    import numpy as np
except ImportError as e:  # one line, as every Karman error
    sys.exit(f"karman: error: karman post: {sys.executable}: Python module '{e.name}' is missing "
             f"(Debian: apt install python3-matplotlib python3-h5py python3-numpy)")

matplotlib.use("Agg")
warnings.filterwarnings("ignore", category=UserWarning)  # layout hints: stderr stays for errors
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402

DPI = 100
FIGURE_WIDTH = 1200  # pixels, every figure
PANEL_HEIGHT = 360   # pixels per row of panels
MAX_TRIPLES = 3      # field triples drawn per run (an FNO run stores one per test sample)
MAX_OTHER_FIELDS = 6


class BadRun(Exception):
    """A run folder that cannot be post-processed: one line naming the file."""


def new_figure(rows=1, columns=1):
    fig, axes = plt.subplots(rows, columns, squeeze=False,
                             figsize=(FIGURE_WIDTH / DPI, rows * PANEL_HEIGHT / DPI), dpi=DPI)
    return fig, axes


def save(fig, path):
    # tight_layout, not bbox_inches="tight": the size stays FIGURE_WIDTH x rows x PANEL_HEIGHT.
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def finite_range(*arrays):
    values = np.concatenate([np.ravel(a)[np.isfinite(np.ravel(a))] for a in arrays] or [[0.0]])
    if values.size == 0:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    return (low, high) if high > low else (low - 0.5, high + 0.5)


# ---------------------------------------------------------------- run folder

class Run:
    def __init__(self, folder):
        self.folder = pathlib.Path(folder)
        self.name = self.folder.name or str(self.folder)
        report_path = self.folder / "report.json"
        if not report_path.is_file():
            raise BadRun(f"{report_path}: no report.json: is this a finished run folder?")
        try:
            self.report = json.loads(report_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise BadRun(f"{report_path}: not valid JSON: {e}")
        self.kind = self.report.get("kind", "?")
        self.history = read_history(self.folder / "history.csv")

    def h5(self, name):
        path = self.folder / name
        if not path.is_file():
            return None
        try:
            return h5py.File(path, "r")
        except OSError as e:
            raise BadRun(f"{path}: not an HDF5 file ({e})")


def read_history(path):
    """history.csv as {column: float array}; empty cells are NaN."""
    if not path.is_file():
        return None
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        return None
    header, body = rows[0], rows[1:]
    columns = {}
    for j, name in enumerate(header):
        values = []
        for row in body:
            try:
                values.append(float(row[j]) if j < len(row) and row[j] != "" else math.nan)
            except ValueError:
                values.append(math.nan)
        columns[name] = np.array(values)
    return columns


# ---------------------------------------------------------------- fields

class FieldReader:
    """The fields of a fields.h5 and how to draw them: on the grid (attributes lower, spacing)
    or on the mesh (/mesh/vertices, /mesh/cells)."""

    def __init__(self, f, sample=None):
        """The fields of `f` (/fields, /mesh), or those of one sample group of a GNO run on
        per-sample meshes (/<set>_<i>/{vertices, cells, prediction, reference, error, ...})."""
        self.file = f
        self.mesh = None
        holder, mesh = (f.get("fields"), f.get("mesh")) if sample is None else (sample, sample)
        if mesh is not None and "vertices" in mesh and "cells" in mesh:
            self.mesh = (mesh["vertices"][()], mesh["cells"][()])
        self.fields = {}
        if holder is not None:
            for name, d in holder.items():
                if isinstance(d, h5py.Dataset) and (sample is None or name not in
                                                    ("vertices", "cells")):
                    self.fields[name] = d

    def draw(self, ax, name, data, attrs, limits=None, cmap="viridis", norm=None):
        """One field on `ax`; returns the mappable for a colour bar (None for a line). The grid's
        lower corner and spacing: the dataset's attributes, else the file's (root group)."""
        data = np.asarray(data, dtype=float)
        if "spacing" not in attrs:
            attrs = self.file.attrs
        vmin, vmax = limits if limits else (None, None)
        if norm is not None:
            vmin = vmax = None
        if self.mesh is not None and data.ndim == 1 and data.size in (len(self.mesh[0]),
                                                                      len(self.mesh[1])):
            return self.draw_mesh(ax, data, vmin, vmax, cmap, norm)
        data = np.squeeze(data)  # a 2D grid is stored [1, ny, nx], a line [1, 1, nx]
        if data.ndim == 3:
            data = data[data.shape[0] // 2]
            ax.text(0.01, 0.99, "middle z slice", transform=ax.transAxes, va="top", fontsize=7)
        if data.ndim == 1 or (data.ndim == 2 and min(data.shape) == 1):
            data = data.ravel()
            lower, spacing = grid_geometry(attrs, 1)
            ax.plot(lower[0] + spacing[0] * np.arange(data.size), data)
            if limits:
                ax.set_ylim(*limits)
            ax.set_xlabel("x")
            return None
        lower, spacing = grid_geometry(attrs, 2)
        ny, nx = data.shape
        extent = [lower[0], lower[0] + spacing[0] * (nx - 1),
                  lower[1], lower[1] + spacing[1] * (ny - 1)]
        image = ax.imshow(data, origin="lower", extent=extent, cmap=cmap, vmin=vmin, vmax=vmax,
                          norm=norm, aspect="auto")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        return image

    def draw_mesh(self, ax, data, vmin, vmax, cmap, norm):
        vertices, cells = self.mesh
        per_cell = data.size == len(cells) and data.size != len(vertices)
        if vertices.shape[1] >= 3 and np.ptp(vertices[:, 2]) > 0:  # tetrahedra: a slab at mid z
            points = vertices[cells].mean(axis=1) if per_cell else vertices
            z = points[:, 2]
            middle, width = 0.5 * (z.min() + z.max()), 0.1 * np.ptp(z)
            near = np.abs(z - middle) <= width
            ax.text(0.01, 0.99, "near the middle z", transform=ax.transAxes, va="top", fontsize=7)
            return ax.scatter(points[near, 0], points[near, 1], c=data[near], s=10, cmap=cmap,
                              vmin=vmin, vmax=vmax, norm=norm)
        triangles = cells[:, :3]  # second-order triangles: their corners
        ax.set_aspect("equal")
        if per_cell:
            return ax.tripcolor(vertices[:, 0], vertices[:, 1], triangles, facecolors=data,
                                cmap=cmap, vmin=vmin, vmax=vmax, norm=norm)
        return ax.tripcolor(vertices[:, 0], vertices[:, 1], triangles, data, shading="gouraud",
                            cmap=cmap, vmin=vmin, vmax=vmax, norm=norm)


def grid_geometry(attrs, dims):
    lower = list(attrs["lower"]) if "lower" in attrs else [0.0] * 3
    spacing = list(attrs["spacing"]) if "spacing" in attrs else [1.0] * 3
    return lower + [0.0] * (dims - len(lower)), spacing + [1.0] * (dims - len(spacing))


def field_triples(names):
    """(prediction, reference, error) name triples: every field with 'error' in its name whose
    prediction ('prediction', 'pinn', the bare stem, or the solver's 'reference' against an
    'exact') and reference ('reference' or 'exact') are also stored."""
    present = set(names)
    triples = []
    for error in sorted(names):
        if "error" not in error:
            continue

        def named(token):
            return error.replace("error", token).strip("_").replace("__", "_")

        prediction = next((named(t) for t in ("prediction", "pinn", "", "reference")
                           if named(t) in present and named(t) != error), None)
        reference = next((named(t) for t in ("reference", "exact")
                          if named(t) in present and named(t) != prediction), None)
        if prediction and reference:
            triples.append((prediction, reference, error))
    return triples


def sample_groups(f):
    """The per-sample mesh groups of a GNO shapes run, in file order."""
    return [g for name, g in f.items() if isinstance(g, h5py.Group)
            and all(k in g for k in ("vertices", "cells", "prediction", "reference", "error"))]


def draw_fields(run, reader, out, tag="", others_too=True):
    figures = []
    triples = field_triples(list(reader.fields))
    for prediction, reference, error in triples[:MAX_TRIPLES]:
        p, r, e = (reader.fields[n][()] for n in (prediction, reference, error))
        fig, axes = new_figure(1, 3)
        shared = finite_range(p, r)
        for ax, name, data in ((axes[0, 0], prediction, p), (axes[0, 1], reference, r)):
            image = reader.draw(ax, name, data, reader.fields[name].attrs, limits=shared)
            ax.set_title(name)
            if image is not None:
                fig.colorbar(image, ax=ax)
        low, high = finite_range(e)
        bound = max(abs(low), abs(high)) or 1.0
        image = reader.draw(axes[0, 2], error, e, reader.fields[error].attrs, cmap="RdBu_r",
                            norm=TwoSlopeNorm(0.0, -bound, bound))
        if image is None:
            axes[0, 2].set_ylim(-bound, bound)
        else:
            fig.colorbar(image, ax=axes[0, 2])
        axes[0, 2].set_title(f"{error} (max |e| {bound:.3g})")
        filename = f"fields_{tag}{prediction}.png"
        save(fig, out / filename)
        figures.append((f"{tag}{prediction} | {reference} | {error}", filename))
    in_triples = {n for t in triples for n in t}
    # An FNO run stores every sample's triple: the ones not drawn are not "other fields".
    others = [n for n in reader.fields if n not in in_triples
              and not any(n.startswith(t[0].split("_")[0] + "_") for t in triples[MAX_TRIPLES:])]
    others = others[:MAX_OTHER_FIELDS] if others_too else []
    if others:
        columns = 3  # the same panel shape as the triples, the unused ones blank
        rows = (len(others) + columns - 1) // columns
        fig, axes = new_figure(rows, columns)
        for i, name in enumerate(others):
            ax = axes[i // columns, i % columns]
            image = reader.draw(ax, name, reader.fields[name][()], reader.fields[name].attrs)
            ax.set_title(name)
            if image is not None:
                fig.colorbar(image, ax=ax)
        for i in range(len(others), rows * columns):
            axes[i // columns, i % columns].axis("off")
        save(fig, out / "fields_other.png")
        figures.append(("other fields", "fields_other.png"))
    return figures


def snapshot_series(f):
    """[(time, group)] of /snapshots, in time order."""
    if "snapshots" not in f:
        return []
    series = [(float(g.attrs.get("time", i)), g) for i, g in enumerate(f["snapshots"].values())
              if isinstance(g, h5py.Group)]
    return sorted(series, key=lambda s: s[0])


def draw_snapshots(run, reader, out):
    """The solution along time (1D: overlaid lines; otherwise the first, middle and last
    snapshots) and the norms of the stored errors along time."""
    series = snapshot_series(reader.file)
    if not series:
        return []
    figures = []
    solution = next((n for n in ("pinn", "prediction", "reference") if n in series[-1][1]), None)
    if solution:
        first = np.asarray(series[0][1][solution][()])
        attrs = reader.fields[next(iter(reader.fields))].attrs if reader.fields else {}
        if first.ndim == 1 and reader.mesh is None:
            fig, axes = new_figure(1, 1)
            for t, g in series:
                reader.draw(axes[0, 0], solution, g[solution][()], attrs)
                axes[0, 0].lines[-1].set_label(f"t = {t:.3g}")
            axes[0, 0].legend(fontsize=7)
            axes[0, 0].set_title(f"{solution} along time")
        else:
            picks = sorted({0, len(series) // 2, len(series) - 1})
            fig, axes = new_figure(1, len(picks))
            shared = finite_range(*(series[i][1][solution][()] for i in picks))
            for ax, i in zip(axes[0], picks):
                image = reader.draw(ax, solution, series[i][1][solution][()], attrs, limits=shared)
                ax.set_title(f"{solution}, t = {series[i][0]:.3g}")
                if image is not None:
                    fig.colorbar(image, ax=ax)
        save(fig, out / "snapshots.png")
        figures.append((f"{solution} along time", "snapshots.png"))
    errors = sorted({n for _, g in series for n in g if "error" in n})
    if errors:
        fig, axes = new_figure(1, 1)
        ax = axes[0, 0]
        def norm(values):
            return float(np.sqrt(np.nanmean(np.square(np.asarray(values, dtype=float)))))

        for name in errors:
            # Relative to the reference where it is stored beside the error (not at t = 0 of a
            # zero initial state), else the error's root mean square.
            relative = all("reference" in g and norm(g["reference"][()]) > 0
                           for _, g in series if name in g)
            points = [(t, norm(g[name][()]) / (norm(g["reference"][()]) if relative else 1.0))
                      for t, g in series if name in g]
            ax.plot(*zip(*points), "o-",
                    label=f"{name}: {'relative L2' if relative else 'root mean square'}")
        ax.set_yscale("log")
        ax.set_xlabel("t")
        ax.legend(fontsize=8)
        ax.set_title("error along time")
        save(fig, out / "error_in_time.png")
        figures.append(("error along time", "error_in_time.png"))
    return figures


def convergence_histories(run):
    """{label: residual norms per iteration}: the report's residual_history of the PETSc baseline
    (baseline), of the learned preconditioner (metrics) and of the other PCs (baselines)."""
    r = run.report
    histories = {}

    def take(label, section):
        if isinstance(section, dict) and isinstance(section.get("residual_history"), list) \
                and section["residual_history"]:
            histories[label] = np.asarray(section["residual_history"], dtype=float)

    baseline = r.get("baseline") or {}
    if isinstance(baseline, dict):
        take(f"PETSc baseline ({baseline.get('ksp', baseline.get('solver', '?'))} + "
             f"{baseline.get('pc', '?')})", baseline)
    take("learned" if run.kind == "precond" else "method", r.get("metrics"))
    warm = (r.get("metrics") or {}).get("warm_start_residual_history")
    if isinstance(warm, list) and warm:  # Darcy FNO: CG started from the prediction
        histories["CG from the FNO's prediction"] = np.asarray(warm, dtype=float)
    for name, section in (r.get("baselines") or {}).items():
        take(name, section)
    return histories


def draw_convergence(run, out):
    histories = convergence_histories(run)
    if not histories:
        return []
    fig, axes = new_figure(1, 1)
    ax = axes[0, 0]
    for name, residuals in histories.items():
        ax.semilogy(np.arange(residuals.size), np.maximum(residuals, 1e-300), label=name)
    ax.set_xlabel("iteration")
    ax.set_ylabel("residual norm")
    ax.legend(fontsize=8)
    ax.set_title("KSP residual history")
    save(fig, out / "convergence.png")
    return [("solver convergence", "convergence.png")]


# ---------------------------------------------------------------- training curves

def validation_column(history):
    """The last column of history.csv, after step, stage, lr, loss, gradient_norm, wall_s and the
    loss terms (loss_<name>): test_rel_l2, validation_iterations, ... when recorded."""
    last = list(history)[-1]
    known = {"step", "stage", "lr", "loss", "gradient_norm", "wall_s"}
    if last in known or last.startswith("loss_") or not np.isfinite(history[last]).any():
        return None
    return last


def draw_training(runs, out, filename="training.png"):
    """Loss, learning rate, gradient norm and validation error per step; several runs overlaid."""
    runs = [r for r in runs if r.history is not None and "loss" in r.history]
    if not runs:
        return []
    panels = [("loss", "loss"), ("lr", "learning rate"), ("gradient_norm", "gradient norm"),
              (None, "validation error")]
    fig, axes = new_figure(1, 4)
    for ax, (column, title) in zip(axes[0], panels):
        for run in runs:
            h = run.history
            names = [column or validation_column(h)]
            if column == "loss" and len(runs) == 1:  # and each term of the loss
                names += [c for c in h if c.startswith("loss_")]
            for name in names:
                if name is None or name not in h:
                    continue
                values, steps = h[name], h.get("step", np.arange(len(h[name])))
                keep = np.isfinite(values) & (values > 0)
                label = run.name if len(runs) > 1 else name
                ax.plot(steps[keep], values[keep], "o-" if keep.sum() < 30 else "-", ms=3,
                        label=label)
        if ax.lines:
            ax.set_yscale("log")
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "not recorded", ha="center", transform=ax.transAxes)
        ax.set_xlabel("step")
        ax.set_title(title)
    save(fig, out / filename)
    return [("training history", filename)]


# ---------------------------------------------------------------- kind-specific figures

def draw_fno(run, out):
    metrics = run.report.get("metrics", {})
    errors = metrics.get("test_rel_l2")
    figures = []
    if isinstance(errors, list) and errors:
        fig, axes = new_figure(1, 2)
        ax = axes[0, 0]
        ax.hist(errors, bins=max(5, min(30, len(errors) // 2)), color="tab:blue")
        ax.axvline(metrics.get("rel_l2", np.mean(errors)), color="k", ls="--", label="mean")
        ax.set_xlabel("relative L2 error")
        ax.set_ylabel("test samples")
        ax.legend(fontsize=8)
        ax.set_title(f"test error of {len(errors)} samples")
        ax = axes[0, 1]
        resolutions = [("training grid", metrics.get("rel_l2"), metrics.get("resolution"))]
        sr = metrics.get("super_resolution")
        if isinstance(sr, dict) and "rel_l2" in sr:
            resolutions.append(("super-resolution", sr["rel_l2"], sr.get("resolution")))
        labels = [f"{name}\n{'x'.join(map(str, res)) if isinstance(res, list) else ''}"
                  for name, _, res in resolutions]
        ax.bar(labels, [v for _, v, _ in resolutions], color=["tab:blue", "tab:orange"][:len(labels)])
        ax.set_ylabel("mean relative L2 error")
        ax.set_title("zero-shot super-resolution" if len(resolutions) > 1 else "test error")
        save(fig, out / "fno_errors.png")
        figures.append(("FNO test errors and super-resolution", "fno_errors.png"))
    return figures


def draw_precond(run, out):
    """Iterations and solve times per test matrix and preconditioner, from the report's
    `matrices` table (one entry per matrix, one {iterations, solve_s, ...} per PC)."""
    rows = run.report.get("matrices")
    if not isinstance(rows, list) or not rows:
        return []
    pcs = []
    for row in rows:
        pcs += [k for k, v in row.items()
                if isinstance(v, dict) and "iterations" in v and k not in pcs]
    if not pcs:
        return []

    def value(row, pc, key):
        entry = row.get(pc, {})
        v = entry.get(key, math.nan)
        return math.nan if entry.get("iterations", -1) < 0 or v is None else v

    fig, axes = new_figure(1, 2)
    width = 0.8 / len(pcs)
    x = np.arange(len(rows))
    for k, pc in enumerate(pcs):
        axes[0, 0].bar(x + k * width, [value(r, pc, "iterations") for r in rows], width, label=pc)
        axes[0, 1].bar(x + k * width, [value(r, pc, "total_s") for r in rows], width, label=pc)
    for ax, title in ((axes[0, 0], "CG iterations (missing: not converged)"),
                      (axes[0, 1], "set-up + solve time [s]")):
        ax.set_xticks(x + 0.4 - width / 2)
        ax.set_xticklabels([f"{r.get('name', i)} ({r.get('rows', '?')} rows)"
                            for i, r in enumerate(rows)], fontsize=7)
        ax.set_title(title)
        ax.legend(fontsize=7)
    axes[0, 1].set_yscale("log")
    save(fig, out / "precond.png")
    return [("iterations and times per matrix and preconditioner", "precond.png")]


def draw_dcdm(run, out):
    """kind dcdm: iterations against the grid size n per solver, one panel per rtol, from the
    report's `results` (one entry per size and rtol, one {iterations, ...} per solver)."""
    rows = run.report.get("results")
    if not isinstance(rows, list) or not rows:
        return []
    rtols = sorted({r.get("rtol") for r in rows}, reverse=True)
    fig, axes = new_figure(1, len(rtols))
    for k, rtol in enumerate(rtols):
        ax = axes[0, k]
        at = sorted((r for r in rows if r.get("rtol") == rtol), key=lambda r: r.get("n", 0))
        solvers = []
        for r in at:
            solvers += [s for s in r.get("solvers", {}) if s not in solvers]
        for s in solvers:
            its = [r["solvers"].get(s, {}).get("iterations", -1) for r in at]
            ax.plot([r.get("n") for r in at], [i if i > 0 else math.nan for i in its], "o-",
                    label=s)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("cells per side n")
        ax.set_title(f"iterations at rtol {rtol:g} (missing: not converged)")
        ax.legend(fontsize=7)
    save(fig, out / "dcdm.png")
    return [("DCDM and CG iterations per grid size", "dcdm.png")]


def draw_mppde(run, out):
    """MP-PDE: the network's accumulated error (mean and worst test trajectory) beside WENO5 on
    the same grid and the "no change" prediction."""
    metrics = run.report.get("metrics", {})
    bars = [(label, metrics.get(key)) for label, key in (
        ("network (mean)", "accumulated_error"), ("network (max)", "accumulated_error_max"),
        ("WENO5, same grid", "weno5_same_grid_accumulated_error"),
        ("no change", "no_change_accumulated_error"))]
    bars = [(label, v) for label, v in bars if isinstance(v, (int, float))]
    if not bars:
        return []
    fig, axes = new_figure(1, 1)
    ax = axes[0, 0]
    ax.bar([b[0] for b in bars], [b[1] for b in bars],
           color=["tab:blue", "tab:cyan", "tab:orange", "tab:gray"][:len(bars)])
    ax.set_yscale("log")
    ax.set_ylabel("accumulated error")
    ax.set_title("test trajectories: accumulated error")
    save(fig, out / "accumulated_error.png")
    return [("accumulated error", "accumulated_error.png")]


def draw_dataset(run, out):
    """kind dataset: the first samples' input and output (first channel)."""
    f = run.h5("dataset.h5")
    if f is None:
        return []
    with f:
        arrays = {n: d for n, d in f.items() if isinstance(d, h5py.Dataset) and d.ndim >= 2}
        inputs = next((arrays[n] for n in ("inputs", "input", "a") if n in arrays), None)
        outputs = next((arrays[n] for n in ("outputs", "output", "u") if n in arrays), None)
        if inputs is None or outputs is None:
            return []
        count = min(3, inputs.shape[0])
        fig, axes = new_figure(2, count)
        reader = FieldReader(f)
        for s in range(count):
            for row, (label, d) in enumerate((("input", inputs), ("output", outputs))):
                sample = np.asarray(d[s], dtype=float)
                while sample.ndim > 2 or (sample.ndim == 2 and min(sample.shape) <= 4
                                          and sample.shape[0] != sample.shape[1]):
                    sample = sample[0] if sample.shape[0] <= sample.shape[-1] else sample[..., -1]
                ax = axes[row, s]
                image = reader.draw(ax, label, sample, d.attrs)
                ax.set_title(f"sample {s}: {label}")
                if image is not None:
                    fig.colorbar(image, ax=ax)
        save(fig, out / "dataset.png")
    return [("dataset samples", "dataset.png")]


# ---------------------------------------------------------------- report table and HTML

def flatten(section, prefix=""):
    """{dotted key: scalar} of a report section; lists of numbers are summarised."""
    rows = {}
    for key, value in (section or {}).items():
        name = f"{prefix}{key}"
        if key == "residual_history":  # drawn in convergence.png
            continue
        if isinstance(value, dict):
            rows.update(flatten(value, name + "."))
        elif isinstance(value, list):
            if value and all(isinstance(v, (int, float)) for v in value) and len(value) <= 4:
                rows[name] = "[" + ", ".join(format_value(v) for v in value) + "]"
            elif value and all(isinstance(v, (int, float)) for v in value):
                rows[name] = f"{len(value)} values, mean {format_value(float(np.mean(value)))}"
        else:
            rows[name] = format_value(value)
    return rows


def format_value(value):
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def report_rows(run):
    r = run.report
    rows = {k: format_value(r[k]) for k in ("case", "kind", "status", "ranks", "precision")
            if k in r}
    for section in ("metrics", "baseline", "speedup"):
        value = r.get(section)
        if isinstance(value, dict):
            rows.update(flatten(value, section + "."))
        elif value is not None:
            rows[section] = format_value(value)
    if isinstance(r.get("baselines"), dict):
        rows.update(flatten(r["baselines"], "baselines."))
    return rows


def table_html(runs):
    per_run = [report_rows(r) for r in runs]
    keys = []
    for rows in per_run:
        keys += [k for k in rows if k not in keys]
    head = "".join(f"<th>{html.escape(r.name)}</th>" for r in runs)
    body = "".join(
        f"<tr><td>{html.escape(k)}</td>"
        + "".join(f"<td>{html.escape(rows.get(k, ''))}</td>" for rows in per_run) + "</tr>\n"
        for k in keys)
    return f"<table>\n<tr><th>key</th>{head}</tr>\n{body}</table>\n"


def image_html(out, title, filename):
    data = base64.b64encode((out / filename).read_bytes()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(title)}" '
            f'data-file="{html.escape(filename)}">'
            f"<figcaption>{html.escape(title)} ({html.escape(filename)})</figcaption></figure>\n")


STYLE = """body { font-family: sans-serif; margin: 1.5em; max-width: 1300px; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border: 1px solid #bbb; padding: 2px 8px; text-align: left; }
th { background: #eee; } figure { margin: 1em 0; } img { max-width: 100%; }
figcaption { color: #555; font-size: 0.9em; }"""


def write_html(out, title, runs, figures):
    parts = [f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
             f"</title><style>{STYLE}</style></head><body>\n<h1>{html.escape(title)}</h1>\n",
             "<h2>Report</h2>\n", table_html(runs)]
    if figures:
        parts.append("<h2>Figures</h2>\n")
        parts += [image_html(out, t, f) for t, f in figures]
    parts.append("</body></html>\n")
    (out / "index.html").write_text("".join(parts))


# ---------------------------------------------------------------- drivers

def post_one(run):
    out = run.folder / "post"
    out.mkdir(exist_ok=True)
    for old in out.glob("*.png"):  # figures of an earlier post that this one may not redraw
        old.unlink()
    figures = []
    f = run.h5("fields.h5")
    if f is not None:
        with f:
            reader = FieldReader(f)
            figures += draw_fields(run, reader, out)
            figures += draw_snapshots(run, reader, out)
            for group in sample_groups(f)[:MAX_TRIPLES]:
                tag = group.name.strip("/") + "_"
                figures += draw_fields(run, FieldReader(f, group), out, tag, others_too=False)
    f = run.h5("super_resolution.h5")  # FNO: a test sample on the finer grid
    if f is not None:
        with f:
            figures += draw_fields(run, FieldReader(f), out, "super_resolution_", others_too=False)
    figures += draw_training([run], out)
    figures += draw_convergence(run, out)
    figures += draw_fno(run, out)
    figures += draw_precond(run, out)
    if run.kind == "mppde":
        figures += draw_mppde(run, out)
    if run.kind == "dcdm":
        figures += draw_dcdm(run, out)
    if run.kind == "dataset":
        figures += draw_dataset(run, out)
    write_html(out, f"{run.report.get('case', run.name)} ({run.kind})", [run], figures)
    return out, figures


def post_comparison(runs, out):
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    figures = draw_training(runs, out)
    histories = [(r, convergence_histories(r)) for r in runs]
    if any(h for _, h in histories):
        fig, axes = new_figure(1, 1)
        for run, h in histories:
            for name, residuals in h.items():
                axes[0, 0].semilogy(np.maximum(residuals, 1e-300), label=f"{run.name}: {name}")
        axes[0, 0].set_xlabel("iteration")
        axes[0, 0].legend(fontsize=7)
        axes[0, 0].set_title("KSP residual histories")
        save(fig, out / "convergence.png")
        figures.append(("solver convergence", "convergence.png"))
    write_html(out, "comparison of " + ", ".join(r.name for r in runs), runs, figures)
    return out, figures


def main(argv):
    parser = argparse.ArgumentParser(prog="karman post", description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--output", help="folder of the comparison of several runs")
    args = parser.parse_args(argv)
    try:
        runs = [Run(folder) for folder in args.runs]
        for run in runs:
            out, figures = post_one(run)
            print(f"{run.folder}: {len(figures)} figure(s) and index.html in {out}")
        if len(runs) > 1:
            out = pathlib.Path(args.output) if args.output else runs[0].folder / "post" / "compare"
            out, figures = post_comparison(runs, out)
            print(f"comparison of {len(runs)} runs: {len(figures)} figure(s) and index.html in {out}")
    except BadRun as e:
        print(f"karman: error: {e}", file=sys.stderr)
        return 1
    except (OSError, KeyError, ValueError) as e:
        print(f"karman: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
