"""Fitting an MTP to a labelled set: split, fit, evaluate, report."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.units import GPa

from ionflow.errors import IonflowInputError
from ionflow.io.labelled_set import LabelledSet
from ionflow.io.mlip_cfg import read_labelled_cfg, write_labelled_cfg
from ionflow.mtp.run import FitWeights, cost_per_atom_step_s, get_engine
from ionflow.mtp.schemas.fit import ErrorStats, MtpFitDocument, ParityData, SplitErrors
from ionflow.mtp.templates import untrained_mtp_text
from ionflow.structures.contacts import closest_contacts_of_set

PASSIVE_WEIGHTS = (100.0, 1.0, 0.0)
ACTIVE_LEARNING_WEIGHTS = (100.0, 1.0, 0.01)


def split_train_validation(
    n: int, validation_fraction: float = 0.1, seed: int = 0
) -> tuple[list[int], list[int]]:
    """Return (train, validation) indices: a fixed-seed random split of ``n`` items."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = round(n * validation_fraction)
    if validation_fraction > 0 and n >= 2:
        n_val = max(n_val, 1)
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())


def min_interatomic_distance(images: Sequence[Atoms]) -> float:
    """Return the shortest interatomic distance in ``images``, Å."""
    best = np.inf
    for atoms in images:
        if len(atoms) > 1:
            d = atoms.get_all_distances(mic=True)
            best = min(best, d[~np.eye(len(atoms), dtype=bool)].min())
    return float(best)


def _stats(ref: np.ndarray, pred: np.ndarray) -> ErrorStats:
    diff = np.asarray(pred) - np.asarray(ref)
    return ErrorStats(
        mae=float(np.abs(diff).mean()), rmse=float(np.sqrt((diff**2).mean())), n=diff.size
    )


def evaluate_errors(
    reference: Sequence[Atoms], predicted: Sequence[Atoms]
) -> tuple[SplitErrors, ParityData]:
    """Compare predicted with reference energies (eV/atom), forces (eV/Å), stress (GPa)."""
    e_ref = np.array([a.get_potential_energy() / len(a) for a in reference])
    e_mtp = np.array([a.get_potential_energy() / len(a) for a in predicted])
    f_ref = np.concatenate([a.get_forces().ravel() for a in reference])
    f_mtp = np.concatenate([a.get_forces().ravel() for a in predicted])
    stress = None
    if all("stress" in (a.calc.results if a.calc else {}) for a in reference):
        s_ref = np.concatenate([a.get_stress() for a in reference]) / GPa
        s_mtp = np.concatenate([a.get_stress() for a in predicted]) / GPa
        stress = _stats(s_ref, s_mtp)
    errors = SplitErrors(
        energy_per_atom=_stats(e_ref, e_mtp), forces=_stats(f_ref, f_mtp), stress=stress
    )
    parity = ParityData(
        energy_per_atom_ref=e_ref.tolist(),
        energy_per_atom_mtp=e_mtp.tolist(),
        forces_ref=f_ref.tolist(),
        forces_mtp=f_mtp.tolist(),
    )
    return errors, parity


def upconvert_mtp_text(mtp_text: str, level: int, species: Sequence[str]) -> str:
    """Return ``mtp_text`` (a fitted potential) raised to ``level`` with motep's upconversion.

    The higher-level potential keeps the radial basis (min_dist, R_cut, size) and every
    coefficient of the fitted one; its new moment coefficients are zero, so it predicts
    the same energies until it is refitted. A potential already at ``level`` is returned
    unchanged.

    Raises:
        IonflowInputError: if the potential has more basis functions than ``level``.
    """
    from ionflow.mtp import motep_api

    with tempfile.TemporaryDirectory(prefix="ionflow-upconvert-") as tmp:
        source_path = Path(tmp) / "source.mtp"
        source_path.write_text(mtp_text)
        source = motep_api.read_potential(source_path, species)
        basis = source.radial_basis
        target_path = Path(tmp) / "target.mtp"
        target_path.write_text(
            untrained_mtp_text(
                level, source.species_count, float(basis.min), float(basis.max), int(basis.size)
            )
        )
        target = motep_api.read_potential(target_path, species)
        if source.alpha_scalar_moments == target.alpha_scalar_moments:
            return mtp_text
        if source.alpha_scalar_moments > target.alpha_scalar_moments:
            raise IonflowInputError(
                f"cannot start a level-{level} fit from a potential with "
                f"{source.alpha_scalar_moments} basis functions (a higher level); "
                "start from a lower or the same level"
            )
        motep_api.upconvert_potential(source, target)
        return motep_api.write_potential(target_path, target).read_text()


def fit_mtp(
    labelled_set: LabelledSet,
    level: int = 8,
    r_cut: float = 5.0,
    radial_basis_size: int = 8,
    weights: tuple[float, float, float] = PASSIVE_WEIGHTS,
    max_iter: int = 500,
    validation_fraction: float = 0.1,
    seed: int = 0,
    previous_mtp: str | None = None,
    engine: str | None = None,
    workdir: str | Path | None = None,
) -> MtpFitDocument:
    """Fit an MTP to a labelled set and report its errors.

    Args:
        labelled_set: the labelled structures (energies eV, forces eV/Å, stress); its
            ``species`` is the type order of the potential.
        level: MTP level (even, 2-16).
        r_cut: cutoff radius, Å.
        radial_basis_size: number of Chebyshev radial functions.
        weights: energy : force : stress weights.
        max_iter: most optimiser iterations (motep stops earlier when the loss plateaus).
        validation_fraction: share of configurations held out (fixed-seed split).
        seed: seed of the split and of the initial coefficients.
        previous_mtp: ``.mtp`` text to warm-start from (same or lower level: a lower one is
            upconverted first, see :func:`upconvert_mtp_text`), or None. When the set has
            atoms closer than its ``min_dist`` (active learning labelled shorter contacts),
            the radial basis is widened to the set's (as ``mlp train`` updates
            ``min_dist``): without it, exploration's trust level (a fraction of
            ``min_dist``) could never move and the loop never learns closer contacts.
        engine: ``mlp`` or ``motep`` (default: settings).
        workdir: where the engine's files go (default: a temporary directory).

    Raises:
        IonflowInputError: if the labelled set is empty or too small to split.
    """
    with tempfile.TemporaryDirectory(prefix="ionflow-fit-") as tmp:
        work = Path(workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        images, species = labelled_set.images, labelled_set.species
        if len(images) < 2:
            raise IonflowInputError(
                f"the labelled set has {len(images)} configurations; an MTP fit needs >= 2"
            )
        train_idx, val_idx = split_train_validation(len(images), validation_fraction, seed)
        train_images = [images[i] for i in train_idx]
        val_images = [images[i] for i in val_idx]
        write_labelled_cfg(train_images, work / "train.cfg", species)
        if val_images:
            write_labelled_cfg(val_images, work / "validation.cfg", species)

        min_dist = round(min(min_interatomic_distance(images) * 0.95, r_cut - 0.5), 3)
        from ionflow.mtp import motep_api

        initial = work / "initial.mtp"
        if previous_mtp:
            initial.write_text(upconvert_mtp_text(previous_mtp, level, species))
            start_from = motep_api.read_potential(initial, species)
            if start_from.radial_basis.min > min_dist:  # the set has closer atoms: widen
                start_from.radial_basis.min = min_dist  # (as mlp train's min_dist update)
                motep_api.write_potential(initial, start_from)
        else:
            initial.write_text(
                untrained_mtp_text(level, len(species), min_dist, r_cut, radial_basis_size)
            )
        runner = get_engine(engine)
        start = time.perf_counter()
        trained = runner.train(
            initial,
            work / "train.cfg",
            work / "trained.mtp",
            species,
            FitWeights(*weights),
            max_iter,
            seed,
        )
        fit_time = time.perf_counter() - start
        log = getattr(runner, "last_log", None)  # motep reports what its optimiser did

        predicted_train = runner.calc_efs(
            trained, work / "train.cfg", work / "train_efs.cfg", species
        )
        train_errors, _ = evaluate_errors(train_images, read_labelled_cfg(predicted_train, species))
        val_errors = parity = None
        if val_images:
            predicted_val = runner.calc_efs(
                trained, work / "validation.cfg", work / "validation_efs.cfg", species
            )
            val_errors, parity = evaluate_errors(
                val_images, read_labelled_cfg(predicted_val, species)
            )
        cost = cost_per_atom_step_s(trained, species, images)
        mtp_text = trained.read_text()
        used = motep_api.read_potential(trained, species)
        return MtpFitDocument(
            level=level,
            r_cut=float(used.radial_basis.max),
            min_dist=float(used.radial_basis.min),
            closest_pairs_A=closest_contacts_of_set(train_images, float(used.radial_basis.max)),
            radial_basis_size=int(used.radial_basis.size),
            species=list(species),
            weights=tuple(weights),
            max_iter=max_iter,
            seed=seed,
            warm_start=bool(previous_mtp),
            n_train=len(train_images),
            n_validation=len(val_images),
            train_errors=train_errors,
            validation_errors=val_errors,
            fit_time_s=fit_time,
            optimizer_iterations=log.n_iterations if log else None,
            stopped_by=log.stopped_by if log else None,
            fit_processes=log.processes if log else None,
            evaluation_time_per_atom_step_s=cost,
            engine=runner.name,
            oracle=labelled_set.oracle,
            level_of_theory=labelled_set.level_of_theory,
            versions={p: version(p) for p in ("ionflow", "motep", "ase")},
            mtp=mtp_text,
            training_cfg=(work / "train.cfg").read_text(),
            validation_cfg=(work / "validation.cfg").read_text() if val_images else None,
            parity_validation=parity,
        )
