# Open a fields.xdmf that is a collection of per-sample meshes (kind gno on mesh shapes: one
# fields.h5 group per sample with its own /vertices, /cells and vertex fields) in a real ParaView,
# and check what it shows against fields.h5.
#
#   xvfb-run -a pvpython check_samples.py RUN_DIR
#
# For each of ParaView's XDMF readers (Xdmf3ReaderS, Xdmf3ReaderT, the legacy XDMF Reader):
#   - it shows one block per group of fields.h5, each group exactly once;
#   - a block's points are the group's vertices in their order (z = 0), its cells the group's
#     triangles (the same vertex triples), its point arrays the group's vertex datasets with the
#     same values at every point.
# Exit 0 when everything holds, 1 with one line per failure otherwise.
import os
import sys

import h5py
import numpy as np
from paraview import simple
from vtkmodules.util import numpy_support

from check_run import fail, failures, leaf_blocks, open_reader


def block_cells(block):
    out = []
    for c in range(block.GetNumberOfCells()):
        ids = block.GetCell(c).GetPointIds()
        out.append([ids.GetId(k) for k in range(ids.GetNumberOfIds())])
    return np.array(out, dtype=np.int64)


def differences(group, block):
    """[] when the block shows the group."""
    vertices = np.asarray(group["vertices"][...])
    points = np.array([block.GetPoint(i) for i in range(block.GetNumberOfPoints())])
    if points.shape[0] != vertices.shape[0]:
        return ["%d points, the group has %d vertices" % (points.shape[0], vertices.shape[0])]
    if not np.array_equal(points[:, :2], vertices) or np.any(points[:, 2] != 0):
        return ["points differ from the group's vertices"]
    cells = np.asarray(group["cells"][...])
    if not np.array_equal(block_cells(block), cells):
        return ["cells differ from the group's triangles"]
    problems = []
    data = block.GetPointData()
    fields = sorted(name for name in group if group[name].ndim == 1)
    shown = sorted(data.GetArrayName(i) for i in range(data.GetNumberOfArrays()))
    if shown != fields:
        return ["point arrays %s, the group has %s" % (shown, fields)]
    for name in fields:
        values = numpy_support.vtk_to_numpy(data.GetArray(name))
        if not np.array_equal(values, np.asarray(group[name][...])):
            problems.append("%s: values differ" % name)
    return problems


def check_reader(kind, path, h5):
    reader = open_reader(kind, path)
    algorithm = reader.GetClientSideObject()
    algorithm.Update()
    blocks = leaf_blocks(algorithm.GetOutputDataObject(0))
    groups = sorted(h5)
    print("%s: %d block(s) for %d group(s)" % (kind, len(blocks), len(groups)))
    if len(blocks) != len(groups):
        fail("%s: %d blocks, fields.h5 has %d groups" % (kind, len(blocks), len(groups)))
    unmatched = list(range(len(blocks)))
    for name in groups:
        reasons = []
        found = None
        for i in unmatched:
            problems = differences(h5[name], blocks[i][1])
            if not problems:
                found = i
                break
            reasons += problems
        if found is None:
            fail("%s: no block shows %s (%s)" % (kind, name, "; ".join(sorted(set(reasons)))))
        else:
            unmatched.remove(found)
    simple.Delete(reader)


def main():
    run_dir = sys.argv[1]
    xdmf = os.path.abspath(os.path.join(run_dir, "fields.xdmf"))
    with h5py.File(os.path.join(run_dir, "fields.h5"), "r") as h5:
        if len(h5) == 0:
            fail("fields.h5 has no sample groups")
        for kind in ("Xdmf3ReaderS", "Xdmf3ReaderT", "XDMFReader"):
            check_reader(kind, xdmf, h5)
    if failures:
        print("check_samples.py: %d failure(s) for %s" % (len(failures), run_dir))
        return 1
    print("check_samples.py: ParaView shows every sample of %s as fields.h5 has it" % run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
