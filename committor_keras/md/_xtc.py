"""Compressed XTC trajectories (precision 0.001 nm) through OpenMM's bundled XTC library."""

from pathlib import Path

import numpy as np

from committor_keras._provenance import atomic_path


def write_xtc(path, frames, boxes=None, dt_ps=1.0):
    """Write ``frames`` (n_frames, n_atoms, 3) in nm atomically; ``boxes`` (n_frames, 3, 3) nm or None."""
    from openmm.app.internal.xtc_utils import xtc_write_frame

    frames = np.asarray(frames, dtype=np.float32)
    with atomic_path(path) as tmp:
        tmp.unlink()  # the XTC writer appends to an existing file
        name = str(tmp).encode("utf-8")
        for i, frame in enumerate(frames):
            box = np.zeros((3, 3), np.float32) if boxes is None else np.asarray(boxes[i], np.float32)
            xtc_write_frame(name, np.ascontiguousarray(frame), box, float(i * dt_ps), i)


def read_xtc(path):
    """``(frames, boxes)``: float32 arrays (n_frames, n_atoms, 3) and (n_frames, 3, 3) in nm."""
    from openmm.app.internal.xtc_utils import read_xtc as _read

    coords, box, _, _ = _read(str(Path(path)).encode("utf-8"))
    return np.ascontiguousarray(np.moveaxis(coords, 2, 0)), np.ascontiguousarray(np.moveaxis(box, 2, 0))
