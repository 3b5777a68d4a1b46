# Open a Karman run's fields.xdmf in a real ParaView and check what it shows against fields.h5.
#
#   xvfb-run -a pvpython check_run.py RUN_DIR [--bounds X0 X1 Y0 Y1 Z0 Z1] [--times N]
#
# For each of ParaView's XDMF readers (the two XDMF 3 readers, Xdmf3ReaderS being the one
# OpenDataFile picks, and the legacy "XDMF Reader") and each time step it sees:
#   - the time steps are the snapshot times of the file (and --times N of them, when given);
#   - every block (dataset) it shows is one group of the file at that time (/fields, or the
#     snapshot /snapshots/NNNNNN whose attribute `time` is the step), each group exactly once;
#   - a block's array names are the group's dataset names, each a point array, or a cell array for
#     a mesh's per-cell dataset (one value per row of /mesh/cells);
#   - its bounds are the file's (and --bounds, when given: the case's box, x first, 0 0 for a
#     missing dimension);
#   - every array's value range is the dataset's min and max, the value at every point is the
#     dataset's value at the node of that point's coordinates (so a transposed or mirrored field
#     fails even where its range and bounds agree), and the value on every cell the dataset's row
#     of the /mesh/cells row with that cell's vertices (so values on the wrong cells fail).
# Exit 0 when everything holds, 1 with one line per failure otherwise. Needs h5py inside pvpython
# (Debian's python3-paraview runs the system python3, which has python3-h5py).
import argparse
import math
import os
import sys

import h5py
import numpy as np
from paraview import simple
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonDataModel import vtkCompositeDataSet

failures = []


def fail(what):
    failures.append(what)
    print("FAIL: " + what)


def close(a, b, rel=1e-12):
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


class GridGeometry:
    """The points of a structured grid file: root attributes shape (slowest first), lower and
    spacing (x first). A point's node is round((p - lower) / spacing) per dimension."""

    def __init__(self, h5):
        self.shape = [int(n) for n in h5.attrs["shape"]]  # [nz, ny, nx] / [ny, nx] / [nx]
        self.lower = [float(v) for v in h5.attrs["lower"]]  # x first
        self.spacing = [float(v) for v in h5.attrs["spacing"]]

    def bounds(self):
        out = []
        for d in range(3):
            if d < len(self.shape):
                n = self.shape[len(self.shape) - 1 - d]
                out += [self.lower[d], self.lower[d] + (n - 1) * self.spacing[d]]
            else:
                out += [0.0, 0.0]
        return out

    def centring(self, dataset):
        return "point"

    def values_at_cells(self, dataset, block):
        raise ValueError("a grid has no per-cell fields")

    def values_at_points(self, dataset, points):
        """[n_points] dataset values at the nodes of `points` [n_points, 3] (x first)."""
        dim = len(self.shape)
        index = []
        for d in range(dim):
            i = np.rint((points[:, d] - self.lower[d]) / self.spacing[d]).astype(np.int64)
            if i.min() < 0 or i.max() >= self.shape[dim - 1 - d]:
                raise ValueError("point outside the grid in dimension %d" % d)
            index.append(i)
        data = np.asarray(dataset[...]).reshape(self.shape)
        return data[tuple(reversed(index))]  # slowest first


class MeshGeometry:
    """The points of an unstructured mesh file: /mesh/vertices [n_vertices, dim] (global vertex
    order, the order of every per-vertex dataset) and /mesh/cells [n_cells, dim + 1] (the global
    vertex numbers of each cell, in the order of every per-cell dataset). A ParaView point is
    matched to the vertex with the same coordinates (exactly: the reader takes them from that
    dataset), a ParaView cell to the row of /mesh/cells with the same vertices."""

    def __init__(self, h5):
        self.vertices = np.asarray(h5["mesh"]["vertices"][...])
        self.dim = self.vertices.shape[1]
        self.index = {tuple(v): i for i, v in enumerate(self.vertices)}
        if len(self.index) != len(self.vertices):
            raise ValueError("two vertices of /mesh/vertices share their coordinates")
        cells = np.asarray(h5["mesh"]["cells"][...])
        self.n_cells = len(cells)
        self.cell_row = {tuple(sorted(int(v) for v in c)): i for i, c in enumerate(cells)}
        if len(self.cell_row) != self.n_cells:
            raise ValueError("two rows of /mesh/cells have the same vertices")

    def centring(self, dataset):
        """"point" for a per-vertex dataset, "cell" for a per-cell one (told by its length)."""
        n = dataset.size
        if n == len(self.vertices) and n != self.n_cells:
            return "point"
        if n == self.n_cells and n != len(self.vertices):
            return "cell"
        raise ValueError("%s: %d values for %d vertices and %d cells: per vertex or per cell?" %
                         (dataset.name, n, len(self.vertices), self.n_cells))

    def vertex_of(self, p):
        key = tuple(p[: self.dim])
        if key not in self.index:
            raise ValueError("point %s is no vertex of /mesh/vertices" % (tuple(p),))
        return self.index[key]

    def values_at_cells(self, dataset, block):
        """[n_cells] dataset values at the rows of /mesh/cells of the block's cells."""
        rows = []
        for i in range(block.GetNumberOfCells()):
            ids = block.GetCell(i).GetPointIds()
            key = tuple(sorted(self.vertex_of(block.GetPoint(ids.GetId(k)))
                               for k in range(ids.GetNumberOfIds())))
            if key not in self.cell_row:
                raise ValueError("cell %d (vertices %s) is no row of /mesh/cells" % (i, key))
            rows.append(self.cell_row[key])
        return np.asarray(dataset[...])[np.array(rows, dtype=np.int64)]

    def bounds(self):
        out = []
        for d in range(3):
            if d < self.dim:
                out += [float(self.vertices[:, d].min()), float(self.vertices[:, d].max())]
            else:
                out += [0.0, 0.0]
        return out

    def values_at_points(self, dataset, points):
        """[n_points] dataset values at the vertices of `points` [n_points, 3] (x first)."""
        rows = [self.vertex_of(p) for p in points]
        return np.asarray(dataset[...])[np.array(rows, dtype=np.int64)]


def file_geometry(h5):
    if "shape" in h5.attrs and "spacing" in h5.attrs:
        return GridGeometry(h5)
    if "mesh" in h5 and "vertices" in h5["mesh"]:
        return MeshGeometry(h5)
    raise NotImplementedError("check_run.py: fields.h5 is neither a structured grid (shape/spacing "
                              "root attributes) nor a mesh (/mesh/vertices)")


def file_groups(h5):
    """[(time or None, group path)]: /fields (every step) and each snapshot at its time."""
    groups = []
    if "snapshots" in h5:
        for label in sorted(h5["snapshots"]):
            groups.append((float(h5["snapshots"][label].attrs["time"]), "/snapshots/" + label))
    # Without steady fields a series has no grid "fields" (write_xdmf).
    if "fields" in h5 and (len(h5["fields"]) > 0 or not groups):
        groups.insert(0, (None, "/fields"))
    return groups


def leaf_blocks(data):
    """[(name or None, dataset)] of a reader's output, a single dataset or a composite one."""
    if not data.IsA("vtkCompositeDataSet"):
        return [(None, data)]
    out = []
    it = data.NewIterator()
    it.InitTraversal()
    while not it.IsDoneWithTraversal():
        meta = it.GetCurrentMetaData()
        name = meta.Get(vtkCompositeDataSet.NAME()) if meta.Has(vtkCompositeDataSet.NAME()) else None
        out.append((name, it.GetCurrentDataObject()))
        it.GoToNextItem()
    return out


def block_arrays(block):
    """{name: (centring, values)}: the block's point arrays ("point") and cell arrays ("cell")."""
    out = {}
    for centring, data in (("point", block.GetPointData()), ("cell", block.GetCellData())):
        for i in range(data.GetNumberOfArrays()):
            out[data.GetArrayName(i)] = (centring, numpy_support.vtk_to_numpy(data.GetArray(i)))
    return out


def block_points(block):
    return np.array([block.GetPoint(i) for i in range(block.GetNumberOfPoints())])


def matches(h5, geometry, group, block):
    """The differences between a block and a file group ([] when the block shows the group)."""
    problems = []
    arrays = block_arrays(block)
    names = sorted(h5[group])
    shown = sorted((name, centring) for name, (centring, _) in arrays.items())
    try:
        wanted = sorted((name, geometry.centring(h5[group][name])) for name in names)
    except ValueError as e:
        return [str(e)]
    if shown != wanted:
        return ["arrays %s, file %s has %s" % (shown, group, wanted)]
    points = block_points(block)
    for name in names:
        dataset = h5[group][name]
        (centring, values), expected = arrays[name], np.asarray(dataset[...]).ravel()
        if values.size != expected.size:
            problems.append("%s: %d values, file %d" % (name, values.size, expected.size))
            continue
        low, high = float(expected.min()), float(expected.max())
        got_low, got_high = float(values.min()), float(values.max())
        if not (close(got_low, low) and close(got_high, high)):
            problems.append("%s: range [%g, %g], file [%g, %g]" % (name, got_low, got_high, low, high))
        try:
            if centring == "point":
                at_points = geometry.values_at_points(dataset, points)
            else:
                at_points = geometry.values_at_cells(dataset, block)
        except ValueError as e:
            problems.append("%s: %s" % (name, e))
            continue
        if not np.array_equal(values, at_points):
            worst = int(np.argmax(np.abs(values - at_points)))
            where = ("point %s" % (tuple(points[worst]),) if centring == "point" else
                     "cell %d" % worst)
            problems.append("%s: %s shows %g, the file has %g there" %
                            (name, where, values[worst], at_points[worst]))
    return problems


def check_bounds(label, block, expected, wanted):
    got = list(block.GetBounds())
    if not all(close(g, e) for g, e in zip(got, expected)):
        fail("%s: bounds %s, the file's grid spans %s" % (label, got, expected))
    if wanted and not all(close(g, w) for g, w in zip(got, wanted)):
        fail("%s: bounds %s, expected %s" % (label, got, wanted))


def check_step(reader_name, h5, geometry, groups, time, data, wanted_bounds):
    label = "%s t=%s" % (reader_name, time)
    blocks = leaf_blocks(data)
    here = [g for t, g in groups if t is None or time is None or close(t, time)]
    print("%s: %d block(s) %s, bounds %s" % (label, len(blocks), [n for n, _ in blocks],
                                            [list(b.GetBounds()) for _, b in blocks]))
    if len(blocks) != len(here):
        fail("%s: %d blocks, the file has %d groups at this time: %s" %
             (label, len(blocks), len(here), here))
    unmatched = list(range(len(blocks)))
    for group in here:
        found = None
        reasons = []
        for i in unmatched:
            problems = matches(h5, geometry, group, blocks[i][1])
            if not problems:
                found = i
                break
            reasons += problems
        if found is None:
            fail("%s: no block shows %s (%s)" % (label, group, "; ".join(reasons)))
            continue
        unmatched.remove(found)
        check_bounds("%s %s" % (label, group), blocks[found][1], geometry.bounds(), wanted_bounds)


def open_reader(kind, path):
    if kind == "XDMFReader":
        return simple.XDMFReader(FileNames=[path])
    return getattr(simple, kind)(FileName=[path])


def check_reader(kind, path, h5, geometry, groups, expected_times, wanted_bounds):
    reader = open_reader(kind, path)
    reader.UpdatePipelineInformation()
    times = [float(t) for t in reader.TimestepValues]
    print("%s: time steps %s" % (kind, times))
    if len(times) != len(expected_times) or not all(
            close(a, b) for a, b in zip(times, expected_times)):
        fail("%s: time steps %s, the file's snapshots are at %s" % (kind, times, expected_times))
    algorithm = reader.GetClientSideObject()  # the VTK reader itself (pvpython's builtin session)
    for time in times or [None]:
        if time is None:
            algorithm.Update()
        else:
            algorithm.UpdateTimeStep(time)
        check_step(kind, h5, geometry, groups, time, algorithm.GetOutputDataObject(0),
                   wanted_bounds)
    simple.Delete(reader)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--bounds", type=float, nargs=6, help="expected X0 X1 Y0 Y1 Z0 Z1")
    parser.add_argument("--times", type=int, help="expected number of time steps")
    args = parser.parse_args()
    # Absolute path: the XDMF 3 readers resolve fields.h5 wrongly from a bare file name.
    xdmf = os.path.abspath(os.path.join(args.run_dir, "fields.xdmf"))
    with h5py.File(os.path.join(args.run_dir, "fields.h5"), "r") as h5:
        geometry = file_geometry(h5)
        groups = file_groups(h5)
        expected_times = sorted(t for t, _ in groups if t is not None)
        if args.times is not None and len(expected_times) != args.times:
            fail("fields.h5 has %d snapshots, expected %d" % (len(expected_times), args.times))
        for kind in ("Xdmf3ReaderS", "Xdmf3ReaderT", "XDMFReader"):
            check_reader(kind, xdmf, h5, geometry, groups, expected_times, args.bounds)
    if failures:
        print("check_run.py: %d failure(s) for %s" % (len(failures), args.run_dir))
        return 1
    print("check_run.py: ParaView shows %s as fields.h5 has it" % args.run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
