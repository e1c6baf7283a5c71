"""Structures stage speed: ESGS and SQS of the 154-atom LSTH cell, argyrodite random 3x3x3.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/structures_speed.py``. Target: each
under 5 minutes on 2 cores. The LSTH cell (32 formula units, 4x4x2 of Pm-3m) has ~1e20
(Li@1a) orderings, so the annealer of ionflow.structures.ordering is used. The SQS uses
the defaults of SqsMaker (icet, pair/triplet cutoffs 5/4 Å, 10000 annealing steps).
"""

from __future__ import annotations

import time

from ionflow.structures.argyrodite import characteristic_configurations, random_structure
from ionflow.structures.ordering import electrostatic_ground_states
from ionflow.structures.parents import get_parent_structure
from ionflow.structures.sqs import special_quasirandom_structures
from ionflow.structures.supercell import make_supercell


def sqs_lsth() -> None:
    """Time the default SQS of the LSTH 4x4x2 (154-atom) cells."""
    for name in ("LSTH-24k", "LSTH-1a"):
        start = time.perf_counter()
        [(sqs, how)] = special_quasirandom_structures(get_parent_structure(name), (4, 4, 2))
        elapsed = time.perf_counter() - start
        error = how["correlation_error"]
        print(
            f"SQS {name} 4x4x2 ({len(sqs)} atoms, cutoffs {how['cutoffs']} Å, "
            f"{how['n_steps']} steps): {elapsed:.1f} s; correlation error max "
            f"{error['max_abs']:.4f}, RMS {error['rms']:.4f} ({error['n_correlations']} "
            f"correlations); Ewald {how['ewald_energy']:.3f} eV; "
            f"closest atoms {how['min_distance']:.2f} Å"
        )


def main() -> None:
    for name in ("LSTH-1a", "LSTH-24k"):
        cell = make_supercell(get_parent_structure(name), (4, 4, 2))
        start = time.perf_counter()
        results = electrostatic_ground_states(cell, 5, method="auto")
        elapsed = time.perf_counter() - start
        energies = ", ".join(f"{how['ewald_energy']:.3f}" for _, how in results)
        print(
            f"ESGS {name} 4x4x2 ({len(results[0][0])} atoms, "
            f"{results[0][1]['orderings_possible']:.2e} orderings, {results[0][1]['method']}): "
            f"{len(results)} orderings in {elapsed:.1f} s; Ewald energies (eV): {energies}"
        )
    start = time.perf_counter()
    configurations = characteristic_configurations(get_parent_structure("Li6PS5Cl"))
    mixed, how = random_structure(configurations, scaling=(3, 3, 3), temperature=300.0)
    elapsed = time.perf_counter() - start
    print(
        f"argyrodite random 3x3x3 ({len(mixed)} atoms, cells {how['cell_counts']}, "
        f"Cl at 4c {100 * how['halide_4c_fraction']:.1f} %): {elapsed:.1f} s "
        "(including the six configurations)"
    )
    sqs_lsth()


if __name__ == "__main__":
    main()
