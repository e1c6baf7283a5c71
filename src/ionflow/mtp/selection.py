"""Choosing configurations to label: MaxVol ``select-add`` against the active set."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from motep.potentials.mtp.data import MTPData

from ionflow.io.mlip_cfg import read_labelled_cfg, write_labelled_cfg
from ionflow.mtp import motep_api
from ionflow.mtp.run import MlpEngine


@dataclass
class Selection:
    """Result of :func:`select_add`.

    Attributes:
        indices: indices of the chosen candidates, highest grade first (sequential
            picks: in the order picked).
        grades: extrapolation grade of every candidate (max over its atoms).
        duplicates: number of candidates dropped as near-duplicates.
    """

    indices: list[int]
    grades: list[float]
    duplicates: int


def configuration_key(atoms: Atoms, decimals: int = 4) -> str:
    """Return a key identifying a configuration (species, cell and positions in Å)."""
    wrapped = atoms.copy()
    wrapped.wrap()
    parts = (
        atoms.numbers.tobytes(),
        np.round(atoms.cell.array, decimals).tobytes(),
        np.round(wrapped.positions, decimals).tobytes(),
    )

    digest = hashlib.sha1()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


def _max_per_configuration(atom_values: np.ndarray, owner: np.ndarray) -> np.ndarray:
    return np.array([atom_values[owner == i].max() for i in range(owner.max() + 1)])


def grade_configurations(
    data: MTPData, train_images: Sequence[Atoms], images: Sequence[Atoms]
) -> np.ndarray:
    """Return the extrapolation grade of each of ``images`` (max over its atoms).

    MLIP-3's neighbourhood mode (``mlp train --al_mode=nbh`` on ``train_images``, then
    ``mlp calculate_grade``; see :mod:`ionflow.mtp.motep_api`): every atom's row is
    expressed in the MaxVol active set of ``train_images``; grade = largest coefficient.
    Grading the training set itself (``images is train_images``) evaluates it once.
    """
    train_rows = motep_api.neighbourhood_rows(data, train_images)
    active = motep_api.active_set(data, train_images, rows=train_rows)
    same = images is train_images
    rows = train_rows if same else motep_api.neighbourhood_rows(data, images)
    owner = np.repeat(np.arange(len(images)), [len(a) for a in images])
    return _max_per_configuration(motep_api.grades_against(active, rows), owner)


def select_add(
    data: MTPData,
    train_images: Sequence[Atoms],
    candidates: Sequence[Atoms],
    max_selected: int | None = None,
    duplicate_tolerance: float = 1e-3,
    threshold: float = 1e-3,
    sequential: bool = True,
) -> Selection:
    """Choose the candidates that enlarge the MaxVol active set of the training set.

    MLIP ``select-add`` in neighbourhood mode: the rows of the candidates' atoms are
    appended to the active set and MaxVol swaps rows while any coefficient exceeds
    ``1 + threshold``; candidates with a row in the final set are selected.
    Near-duplicates (relative distance of summed basis rows below
    ``duplicate_tolerance``) are removed first.

    When more than ``max_selected`` enter the set, ``sequential`` (default) picks them one
    at a time: the highest-graded, then its rows join the active set (MaxVol) and the rest
    are graded again, so a batch does not spend its labels on consecutive MD frames that
    extend the set in the same direction (``benchmarks/al_selection_efficiency.py``).
    ``sequential=False``: the ``max_selected`` highest grades of the entered ones.
    """
    candidates = list(candidates)
    if not candidates:
        return Selection(indices=[], grades=[], duplicates=0)
    active = motep_api.active_set(data, train_images)
    rows = motep_api.neighbourhood_rows(data, candidates)
    owner = np.repeat(np.arange(len(candidates)), [len(a) for a in candidates])
    grades = _max_per_configuration(motep_api.grades_against(active, rows), owner)

    fingerprints = np.array([rows[owner == i].sum(axis=0) for i in range(len(candidates))])
    kept: list[int] = []
    for i in np.argsort(-grades):
        fp = fingerprints[i]
        if any(
            np.linalg.norm(fp - fingerprints[j]) <= duplicate_tolerance * np.linalg.norm(fp)
            for j in kept
        ):
            continue
        kept.append(int(i))
    duplicates = len(candidates) - len(kept)

    keep_rows = np.isin(owner, kept)
    matrix = np.vstack([active, rows[keep_rows]])
    kept_owner = owner[keep_rows]
    final = motep_api.maxvol_extend(matrix, np.arange(len(active)), threshold)
    entered = {int(kept_owner[k - len(active)]) for k in final if k >= len(active)}
    chosen = sorted(entered, key=lambda i: -grades[i])
    if max_selected is not None and len(chosen) > max_selected:
        if sequential:
            chosen = _one_at_a_time(active, rows, owner, chosen, max_selected, threshold)
        else:
            chosen = chosen[:max_selected]
    return Selection(indices=chosen, grades=grades.tolist(), duplicates=duplicates)


def _one_at_a_time(
    active: np.ndarray,
    rows: np.ndarray,
    owner: np.ndarray,
    entered: list[int],
    max_selected: int,
    threshold: float,
) -> list[int]:
    """Pick from ``entered`` greedily: highest grade, add its rows to ``active``, regrade."""
    chosen: list[int] = []
    remaining = list(entered)
    while remaining and len(chosen) < max_selected:
        grades = [motep_api.grades_against(active, rows[owner == i]).max() for i in remaining]
        best = int(np.argmax(grades))
        if grades[best] <= 1 + threshold:
            break
        pick = remaining.pop(best)
        chosen.append(pick)
        matrix = np.vstack([active, rows[owner == pick]])
        active = matrix[motep_api.maxvol_extend(matrix, np.arange(len(active)), threshold)]
    return chosen


CANDIDATE_FEATURE = "ionflow_candidate"  # index of a candidate, kept by mlp in its output


def mlp_select_add(
    engine: MlpEngine,
    mtp_path: str | Path,
    species: Sequence[str],
    train_images: Sequence[Atoms],
    candidates: Sequence[Atoms],
    grades: Sequence[float],
    max_selected: int | None = None,
) -> Selection:
    """:func:`select_add` by the ``mlp`` binary (``select-add`` / ``select_add``).

    Each candidate carries its index as a ``.cfg`` feature, which ``mlp`` keeps, so the
    chosen ones are found again; ``grades`` (from exploration) order them, highest first.
    """
    candidates = list(candidates)
    if not candidates:
        return Selection(indices=[], grades=[], duplicates=0)
    tagged = []
    for i, atoms in enumerate(candidates):
        atoms = atoms.copy()
        atoms.info[CANDIDATE_FEATURE] = i
        tagged.append(atoms)
    with tempfile.TemporaryDirectory(prefix="ionflow-select-", dir=Path.cwd()) as tmp:
        work = Path(tmp)
        train = write_labelled_cfg(train_images, work / "train.cfg", species)
        pool = write_labelled_cfg(tagged, work / "candidates.cfg", species)
        new = engine.select_add(Path(mtp_path), train, pool, work / "new.cfg", species)
        entered = {int(a.info[CANDIDATE_FEATURE]) for a in read_labelled_cfg(new, species)}
    chosen = sorted(entered, key=lambda i: -grades[i])
    if max_selected is not None:
        chosen = chosen[:max_selected]
    return Selection(indices=chosen, grades=[float(g) for g in grades], duplicates=0)
