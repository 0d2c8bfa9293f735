"""The checkpoint format of `Module.save` and `Module.load`: an ``.npz`` archive of plain arrays, one
per parameter name, written atomically and read with every member's name, dtype and shape checked
from its header before anything is decompressed (no pickle, ever).
"""

from __future__ import annotations

import zipfile
import zlib

import numpy as np

from tinygrad_act.files import write_atomically


def write_npz(path, state):
    """Write {name: array} to `path` as an ``.npz`` archive, whole or not at all."""
    write_atomically(path, lambda f: np.savez(f, **state))


ARCHIVE_ERRORS = (
    ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, NotImplementedError,
    RuntimeError, zlib.error,
)  # fmt: skip
_NPY_MAGIC = b"\x93NUMPY"


def read_checked_npz(f, params, owner):
    """The arrays of an .npz file, after checking every member's name, dtype and shape from its
    .npy header: nothing is decompressed until the whole archive is known to fit."""
    if f.read(len(_NPY_MAGIC)) == _NPY_MAGIC:
        raise ValueError(
            "it holds a single array, not an .npz archive of named parameters "
            "(write one with Module.save)"
        )
    f.seek(0)
    with zipfile.ZipFile(f) as archive:
        members = {}
        for member in archive.namelist():
            name = member.removesuffix(".npy")
            if name in members:
                raise ValueError(f"the archive holds {name!r} twice")
            members[name] = member
        problems = name_problems(params, members)
        for name, p in params.items():
            if name not in members:
                continue
            with archive.open(members[name]) as m:
                shape, dtype = _npy_header(m)
            if dtype.hasobject or dtype.kind not in "biuf":
                problems.append(f"{name} holds dtype {dtype}, not real numbers")
            elif shape != p.shape:
                problems.append(f"{name} has shape {shape}, the model expects {p.shape}")
        if problems:
            raise ValueError(f"it does not fit {owner}: " + "; ".join(problems))
        state = {}
        for name in params:  # every header fits: each read is now bounded by a known shape
            with archive.open(members[name]) as m:
                state[name] = np.lib.format.read_array(m, allow_pickle=False)
    return state


def name_problems(params, state):
    problems = []
    missing = [name for name in params if name not in state]
    unexpected = [name for name in state if name not in params]
    if missing:
        problems.append("missing keys: " + ", ".join(missing))
    if unexpected:
        problems.append("unexpected keys: " + ", ".join(unexpected))
    return problems


def _npy_header(m):
    """(shape, dtype) from a .npy header, reading nothing past it."""
    version = np.lib.format.read_magic(m)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(m)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(m)
    else:
        raise ValueError(f".npy format version {version[0]}.{version[1]} is not supported")
    return shape, dtype
