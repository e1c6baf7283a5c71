"""LAMMPS restart files: the header fields ionflow reads (the MD step a file holds).

Restart files are written and read by LAMMPS itself; ionflow only needs to know which
step a file holds, to continue a killed run from the newest complete one.
"""

from __future__ import annotations

import struct
from pathlib import Path

# LAMMPS restart files start with this magic; a file killed while being written may not
_RESTART_MAGIC = b"LammpS RestartT"


# header entries of a LAMMPS restart file before the time step (write_restart.cpp)
_VERSION, _UNITS, _NTIMESTEP = 0, 4, 5


def restart_step(path: str | Path) -> int | None:
    """MD step stored in a LAMMPS restart file's header, or None if it is not one.

    Reads the header written by ``write_restart``/``restart``: magic string, endianness,
    format revision, then ``(flag, value)`` entries up to ``NTIMESTEP``.
    """
    try:
        with open(path, "rb") as handle:
            if handle.read(len(_RESTART_MAGIC) + 1) != _RESTART_MAGIC + b"\0":
                return None
            endian, _revision = struct.unpack("<ii", handle.read(8))
            if endian != 1:
                return None
            for _ in range(32):
                (flag,) = struct.unpack("<i", handle.read(4))
                if flag == _NTIMESTEP:
                    return struct.unpack("<q", handle.read(8))[0]
                if flag in (_VERSION, _UNITS):
                    (length,) = struct.unpack("<i", handle.read(4))
                    handle.read(length)
                else:
                    handle.read(4)  # size of an integer type
    except (OSError, struct.error):
        return None
    return None
