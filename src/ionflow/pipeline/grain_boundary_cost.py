"""Core-hours of the grain-boundary study (``grain_boundary:``).

The model of :mod:`ionflow.pipeline.cost`: surface AIMD and labels, both active-learning
loops at their ``max_iterations`` (an upper bound), and production MD of the large GB model.
"""

from __future__ import annotations

import math

from ionflow.pipeline.cost import (
    FIT_COST_FACTOR,
    SINGLE_POINT_FACTOR,
    StageCost,
    dft_step_core_s,
    mtp_atom_step_core_s,
)
from ionflow.pipeline.spec import WorkflowSpec


def grain_boundary_costs(spec: WorkflowSpec, n_atoms: int) -> list[StageCost]:
    """Stage costs of the GB study ([] when it is off); ``n_atoms``: one configuration cell."""
    gb = spec.grain_boundary
    if not gb.enabled:
        return []
    from ionflow.structures.parents import get_parent_structure
    from ionflow.structures.surface import surface_slab

    surface, learning, model = gb.surface, gb.learning, gb.model
    n_conf = len(gb.configurations)
    slab_atoms = len(
        surface_slab(
            get_parent_structure(spec.material),
            surface.miller_index,
            surface.min_slab_A,
            surface.vacuum_A,
        )[0]
    )
    gb_atoms = 10 * n_atoms * model.learning_expand_times  # Σ5(021): 10 cells per grain pair
    production_atoms = 10 * n_atoms * model.expand_times * math.prod(model.supercell_ab)
    n_runs = n_conf * (1 + len(surface.strain_magnitudes) * len(surface.strain_directions))
    n_runs *= len(surface.aimd_temperatures_K)
    steps = math.ceil(surface.aimd_duration_ps * 1000 / spec.dft.aimd.timestep_fs)
    slab_step_s = dft_step_core_s(spec, slab_atoms)
    label_factor = 1.0 if spec.dft.oracle == "chgnet" else SINGLE_POINT_FACTOR
    n_labels = n_runs * surface.aimd_snapshots
    md_s = mtp_atom_step_core_s(spec)
    n_bulk = spec.structures.n_configurations * (
        1 + len(spec.structures.strain_magnitudes) * len(spec.structures.strain_directions)
    )
    n_bulk *= len(spec.dft.aimd.temperatures_K) * spec.dft.aimd.n_snapshots
    refit_s = (
        (n_bulk * n_atoms + n_labels * slab_atoms)
        * md_s
        * FIT_COST_FACTOR
        * spec.mtp.max_iterations
    )
    loops_s = 0.0
    gb_iterations = learning.gb_max_iterations or learning.max_iterations
    for cell_atoms, label_atoms, iterations in (
        (slab_atoms, slab_atoms, learning.max_iterations),
        (gb_atoms, gb.neighbourhood.max_atoms, gb_iterations),
    ):
        runs = len(learning.temperatures_K) * learning.runs_per_temperature
        explore_s = n_conf * runs * learning.md_steps * cell_atoms * md_s
        label_s = (
            learning.max_selected_per_iteration * label_factor * dft_step_core_s(spec, label_atoms)
        )
        loops_s += iterations * (explore_s + label_s + refit_s)
    md_steps = math.ceil((gb.md.heating_ps + gb.md.production_ps) * 1000 / spec.md.timestep_fs)
    return [
        StageCost(
            "grain boundary surfaces",
            f"{n_runs} AIMD runs x {steps} steps + {n_labels} labels of {slab_atoms} atoms",
            (n_runs * steps * slab_step_s + n_labels * label_factor * slab_step_s) / 3600,
        ),
        StageCost(
            "grain boundary active learning",
            f"at most {learning.max_iterations} + {gb_iterations} iterations (cuts <= "
            f"{gb.neighbourhood.max_atoms} atoms)",
            (refit_s + loops_s) / 3600,
        ),
        StageCost(
            "grain boundary md",
            f"1 run x {md_steps} steps x {production_atoms} atoms",
            md_steps * production_atoms * md_s / 3600,
        ),
    ]
