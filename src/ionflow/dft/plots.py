"""Plots of labelled data sets (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ionflow.dft.schemas.labels import LabelledSetDocument


def plot_labelled_set(document: LabelledSetDocument, path: str | Path) -> Path:
    """Histogram energies per atom (eV/atom) and force norms (eV/Å) of a labelled set.

    The title names the oracle and level of theory that labelled the data.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = document.labelled_set.images
    energies = [a.get_potential_energy() / len(a) for a in images]
    forces = np.concatenate([np.linalg.norm(a.get_forces(), axis=1) for a in images])
    fig, (ax_e, ax_f) = plt.subplots(1, 2, figsize=(9, 3.5), constrained_layout=True)
    ax_e.hist(energies, bins=max(5, len(energies) // 5))
    ax_e.set_xlabel("energy per atom (eV/atom)")
    ax_e.set_ylabel("configurations")
    ax_f.hist(forces, bins=30)
    ax_f.set_xlabel("|force| per atom (eV/Å)")
    ax_f.set_ylabel("atoms")
    fig.suptitle(
        f"{document.n_labelled} configurations labelled by {document.oracle} at "
        f"{document.level_of_theory} ({len(document.failures)} failed)"
    )
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
