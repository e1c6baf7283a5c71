"""Ionic steps of a VASP ``vasprun.xml`` as trajectory frames, streamed (``iterparse``).

Each ``<calculation>`` holds the structure of one ionic step; only the current step is
kept in memory. Element symbols come from ``<atominfo>``; the time of step ``k``
(counted from 0) is ``k * POTIM`` fs for molecular dynamics (``IBRION = 0``), None
otherwise. A file cut off by a killed run ends at its last complete step (warning).
Gzip-compressed files are read as they are. Positions Cartesian in Å.
"""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ionflow.errors import IonflowInputError
from ionflow.io.trajectory_frame import Frame, open_text


def _vectors(varray: ET.Element | None) -> np.ndarray:
    if varray is None:
        return np.zeros((0, 3))
    return np.array([[float(x) for x in v.text.split()] for v in varray.findall("v")])


def _incar_value(element: ET.Element, name: str) -> str | None:
    found = element.find(f".//i[@name='{name}']")
    return found.text.strip() if found is not None and found.text else None


def iter_vasprun_frames(path: str | Path) -> Iterator[Frame]:
    """Yield one frame per ionic step of ``vasprun.xml`` (Cartesian Å).

    Raises:
        IonflowInputError: a file that is not a vasprun.xml or holds no atom list.
    """
    path = Path(path)
    symbols: np.ndarray | None = None
    potim_fs, is_md = None, False
    index = 0
    with open_text(path) as handle:
        events = ET.iterparse(handle, events=("end",))
        try:
            for _, element in events:
                tag = element.tag
                if tag == "incar" or (tag == "separator" and element.get("name") == "ionic"):
                    potim = _incar_value(element, "POTIM")
                    ibrion = _incar_value(element, "IBRION")
                    potim_fs = float(potim) if potim else potim_fs
                    is_md = is_md or (ibrion is not None and int(float(ibrion)) == 0)
                elif tag == "atominfo":
                    rows = element.findall("./array[@name='atoms']/set/rc")
                    symbols = np.array([rc.find("c").text.strip() for rc in rows])
                elif tag == "calculation":
                    structure = element.find("structure")
                    if structure is None:
                        continue
                    if symbols is None:
                        raise IonflowInputError(f"{path}: no <atominfo> before the first step")
                    cell = _vectors(structure.find("crystal/varray[@name='basis']"))
                    frac = _vectors(structure.find("varray[@name='positions']"))
                    if cell.shape != (3, 3) or frac.shape != (len(symbols), 3):
                        raise IonflowInputError(
                            f"{path}: malformed structure at ionic step {index + 1}"
                        )
                    time_fs = index * potim_fs if is_md and potim_fs else None
                    yield Frame(index, time_fs, frac @ cell, cell, symbols=symbols)
                    index += 1
                    element.clear()
        except ET.ParseError as exc:
            if index == 0:
                raise IonflowInputError(f"{path}: not a readable vasprun.xml ({exc})") from exc
            warnings.warn(f"{path}: file ends inside ionic step {index + 1}; skipped", stacklevel=2)
