#!/usr/bin/python3
"""Plot a finished Karman run folder: one PNG per field of fields.h5 (2D: image, 1D: line,
3D: the middle z-slice; on a mesh: the triangles coloured by vertex or cell values, in 3D the
vertices near the middle z plane) and, for time series, the snapshots of the first snapshot field.

    tools/post/plot_run.py runs/quickstart            # writes runs/quickstart/plots/*.png
"""
import json
import pathlib
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def extent(attrs, shape):
    lower = list(attrs["lower"])
    spacing = list(attrs["spacing"])
    nx, ny = shape[-1], shape[-2]
    return [lower[0], lower[0] + spacing[0] * (nx - 1), lower[1], lower[1] + spacing[1] * (ny - 1)]


def plot_field(ax, name, data, attrs):
    if data.ndim == 3:
        data = data[data.shape[0] // 2]
        name += " (middle z slice)"
    if data.ndim == 1:
        x = [attrs["lower"][0] + attrs["spacing"][0] * i for i in range(len(data))]
        ax.plot(x, data)
        ax.set_xlabel("x")
    else:
        image = ax.imshow(data, origin="lower", extent=extent(attrs, data.shape), cmap="viridis")
        plt.colorbar(image, ax=ax)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    ax.set_title(name)


def plot_mesh_field(ax, name, data, vertices, cells):
    """A field of a mesh run: [n_vertices] (per vertex) or [n_cells] (per cell)."""
    per_cell = len(data) == len(cells) and len(data) != len(vertices)
    if vertices.shape[1] == 2:
        if per_cell:
            image = ax.tripcolor(vertices[:, 0], vertices[:, 1], cells, facecolors=data, cmap="viridis")
        else:
            image = ax.tripcolor(vertices[:, 0], vertices[:, 1], cells, data, shading="gouraud",
                                 cmap="viridis")
        ax.set_aspect("equal")
    else:  # tetrahedra: the vertices (or cell centroids) within a slab around the middle z
        points = vertices[cells].mean(axis=1) if per_cell else vertices
        z = points[:, 2]
        middle, width = 0.5 * (z.min() + z.max()), 0.1 * (z.max() - z.min())
        near = abs(z - middle) <= width
        image = ax.scatter(points[near, 0], points[near, 1], c=data[near], s=12, cmap="viridis")
        name += " (near the middle z)"
    plt.colorbar(image, ax=ax)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(name)


def main(run_dir):
    run = pathlib.Path(run_dir)
    out = run / "plots"
    out.mkdir(exist_ok=True)
    report = json.loads((run / "report.json").read_text())
    with h5py.File(run / "fields.h5", "r") as f:
        mesh = ("mesh" in f) and (f["mesh"]["vertices"][()], f["mesh"]["cells"][()])
        for name, dataset in f["fields"].items():
            fig, ax = plt.subplots(figsize=(5, 4))
            if mesh:
                plot_mesh_field(ax, name, dataset[()], *mesh)
            else:
                plot_field(ax, name, dataset[()], dataset.attrs)
            fig.tight_layout()
            fig.savefig(out / f"{name}.png", dpi=110)
            plt.close(fig)
        if "snapshots" in f:
            snapshots = sorted(f["snapshots"].keys())
            fig, ax = plt.subplots(figsize=(6, 4))
            for label in snapshots:
                group = f["snapshots"][label]
                data = group["reference"][()]
                if data.ndim == 1 and not mesh:
                    ax.plot(data, label=f"t = {group.attrs['time']:.3g}")
            if ax.lines:
                ax.legend(fontsize=7)
                ax.set_title("reference snapshots")
                fig.savefig(out / "snapshots.png", dpi=110)
            plt.close(fig)
    metrics = report.get("metrics", {})
    print(f"{report.get('case')}: status {report.get('status')}, "
          + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, float)))
    print(f"plots in {out}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: plot_run.py RUN_DIR")
    main(sys.argv[1])
