"""Make the small real MTP used by the MD tests (``li2s_level08.mtp``).

Li2S (antifluorite, a = 5.70 Å) 2x1x1 conventional cells (24 atoms), rattled and
strained, plus snapshots of short CHGNet MD at 700 K on cells strained by -6 to +6 %,
labelled with CHGNet; a level-8 MTP (R_cut 5 Å) fitted with motep's Python API
(cext engine, L-BFGS-B). The potential only has to be smooth and stable for short MD of
Li2S near 300-600 K; it is not a production potential. Run from the repository root:

    OMP_NUM_THREADS=1 .venv/bin/python tests/data/md/make_test_mtp.py
"""

from __future__ import annotations

import os
import tempfile
import warnings
from importlib.util import find_spec
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator
from motep.io.mlip.mtp import read_mtp, write_mtp
from motep.loss import ErrorPrinter
from motep.train.trainer import Trainer

HERE = Path(__file__).parent
N_SNAPSHOTS = 48  # rattled + strained
N_MD_RUNS = 6  # CHGNet MD runs at strains -6 % ... +6 %
N_MD_SNAPSHOTS = 10  # snapshots per run, 50 fs apart
SEED = 7


def li2s_cell(repeat: tuple[int, int, int]) -> Atoms:
    """Antifluorite Li2S (S on 4a, Li on 8c), conventional cell repeated ``repeat``."""
    return bulk("SLi2", "fluorite", a=5.70, cubic=True).repeat(repeat)


def labelled_snapshots() -> list:
    """Rattled/strained Li2S cells labelled by CHGNet (eV, eV/Å, eV/Å^3)."""
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    rng = np.random.default_rng(SEED)
    base = li2s_cell((2, 1, 1))
    calc = CHGNetCalculator(CHGNet.load(verbose=False), use_device="cpu")
    images = []
    for _ in range(N_SNAPSHOTS):
        atoms = base.copy()
        strain = np.eye(3) + rng.uniform(-0.04, 0.04, (3, 3)) * np.array(
            [[1, 0.3, 0.3], [0.3, 1, 0.3], [0.3, 0.3, 1]]
        )
        atoms.set_cell(atoms.cell @ strain, scale_atoms=True)
        atoms.positions += rng.normal(0.0, rng.uniform(0.03, 0.20), atoms.positions.shape)
        atoms.calc = calc
        energy, forces, stress = (
            atoms.get_potential_energy(),
            atoms.get_forces(),
            atoms.get_stress(),
        )
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces, stress=stress)
        images.append(atoms)
    images += md_snapshots(base, calc, rng)
    return images


def md_snapshots(base: Atoms, calc: object, rng: np.random.Generator) -> list:
    """Snapshots of short CHGNet NVT runs (700 K) on cells strained by up to +-6 %."""
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    images = []
    for k in range(N_MD_RUNS):
        atoms = base.copy()
        atoms.set_cell(atoms.cell * (1 + (k / (N_MD_RUNS - 1) - 0.5) * 0.12), scale_atoms=True)
        atoms.calc = calc
        MaxwellBoltzmannDistribution(atoms, temperature_K=700, rng=rng)
        dyn = Langevin(atoms, 2 * units.fs, temperature_K=700, friction=0.02, rng=rng)
        for _ in range(N_MD_SNAPSHOTS):
            dyn.run(25)
            snap = atoms.copy()
            snap.calc = SinglePointCalculator(
                snap,
                energy=atoms.get_potential_energy(),
                forces=atoms.get_forces(),
                stress=atoms.get_stress(),
            )
            images.append(snap)
    return images


def main() -> None:
    """Label, fit and write ``li2s_level08.mtp`` beside this script."""
    warnings.filterwarnings("ignore")
    images = labelled_snapshots()
    # the untrained level-8 template shipped with maml (MLIP-2's 08.mtp); not imported:
    # maml.apps needs pkg_resources
    template = Path(find_spec("maml").origin).parent / "apps/pes/params/08g.mtp"
    untrained = HERE / "untrained_08.mtp"
    untrained.write_text(
        template.read_text() % (2, 1.6, 5.0, 8)  # species, min_dist, max_dist (Å), basis
    )
    mtp_data = read_mtp(untrained)
    untrained.unlink()
    mtp_data.species = [3, 16]  # Li, S: type 0 = Li, type 1 = S
    trainer = Trainer(
        mtp_data,
        seed=SEED,
        engine="cext",
        loss={"energy_weight": 1.0, "forces_weight": 0.01, "stress_weight": 0.001},
        steps=[
            {"method": "LLS"},
            {"method": "minimize", "kwargs": {"method": "L-BFGS-B", "options": {"maxiter": 400}}},
            {"method": "LLS"},
        ],
    )
    cwd = Path.cwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # motep writes intermediate_*.mtp into the working directory
        try:
            loss = trainer.train(images)
        finally:
            os.chdir(cwd)
    ErrorPrinter(loss.images).log()
    write_mtp(HERE / "li2s_level08.mtp", mtp_data, legacy=True)


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
