"""The LLZO strain/amorphous study: D and E_a against volume, MTP next to a classical model.

shared/papers/llzo-strain-amorphous.txt (issue 13 part 2): crystalline Li_x La3Zr2O12
cells scaled to 85-130 % of the experimental volume at fixed fractional positions, and
amorphous cells made by melt-quench with each potential (3000 K for 1 ns, 5 K/ps to
500 K, NVT) and expanded; NVT MD of every cell on the temperature grid with each
potential (an MTP and the Buckingham + Coulomb model); for amorphous cells optionally
also with the potential that did not make the structure (the study's cross
experiments). Every trajectory gets the site analysis (sites from the Li density,
residence times, back jumps, the jump graph's GOP); the summary job gives D at the
report temperature (1100 K) and E_a per cell and potential.

:class:`VolumeStudyMaker` is the optional sub-Maker of
:class:`ionflow.pipeline.flow.PipelineMaker` (``volumes:`` in a workflow spec).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from jobflow import Flow, Maker, OnMissing, Response, job
from pydantic import BaseModel, Field
from pymatgen.core import Structure

from ionflow.amorphous.flows.melt_quench import MeltQuenchFlowMaker
from ionflow.analysis.schemas.diffusion import ArrheniusDocument, arrhenius_run_warnings
from ionflow.analysis.schemas.regions import SiteDocument
from ionflow.conductivity.flows.core import ConductivityMdFlowMaker
from ionflow.errors import IonflowInputError
from ionflow.md.jobs.melt_quench import MeltQuenchMdMaker
from ionflow.md.sets.classical import classical_potential
from ionflow.pipeline.resources import apply_stage_configs
from ionflow.pipeline.spec import WorkflowSpec
from ionflow.structures.jobs.core import AmorphousExpansionMaker
from ionflow.structures.strain import DEFAULT_VOLUME_FRACTIONS, volumetric_series
from ionflow.structures.supercell import make_supercell

Potential = Literal["mtp", "classical"]
STUDY_NAME = "llzo volume study"  # the summary job's name: reports find its document by it


class VolumeRun(BaseModel):
    """D and E_a of one cell with one potential."""

    configuration: int = Field(description="Index of the configuration the cell came from.")
    formula: str = Field(description="Reduced formula of the cell.")
    cell: Literal["crystalline", "amorphous"]
    volume_fraction: float = Field(
        description="Cell volume / volume of the configuration (experimental for built-ins)."
    )
    density_g_cm3: float
    n_atoms: int
    structure_potential: Potential | None = Field(
        description="Potential that made the structure (melt-quench); None: scaled crystal."
    )
    md_potential: Potential = Field(description="Potential of the diffusion MD.")
    temperature_K: float = Field(description="Temperature of the D values, K.")
    D_run_cm2_s: float | None = Field(
        None, description="D of the runs at temperature_K (mean of repeats); None: not run."
    )
    D_run_err_cm2_s: float | None = None
    D_fit_cm2_s: float = Field(description="D at temperature_K from the Arrhenius fit.")
    D_fit_ci_cm2_s: tuple[float, float] = Field(description="Its 95 % interval.")
    Ea_eV: float
    Ea_err_eV: float
    linear_regime_found: bool | None = Field(
        None, description="Whether the MSD of the runs at temperature_K was diffusive."
    )
    sites: SiteDocument | None = Field(None, description="Site analysis at temperature_K.")
    temperatures_K: list[float] = Field(description="Temperatures of the Arrhenius fit.")


class VolumeStudyDocument(BaseModel):
    """D(T_report) and E_a against volume, crystalline and amorphous, per potential."""

    temperature_K: float = Field(description="Report temperature of D, K.")
    classical_potential: str
    classical_reference: str
    runs: list[VolumeRun]
    run_warnings: list[str] = Field(
        default_factory=list,
        description="Cells left out (their analysis failed), runs that failed and MD "
        "warnings, named by cell, at most one line per run.",
    )
    notes: list[str] = Field(default_factory=list)


def volume_run(meta: dict, arrhenius: ArrheniusDocument, temperature_K: float) -> VolumeRun:
    """One row of the study from a cell's description and its Arrhenius analysis."""
    at_t = [t for t in arrhenius.temperatures if abs(t.temperature_K - temperature_K) < 1e-6]
    runs = at_t[0].runs if at_t else []
    return VolumeRun(
        **meta,
        temperature_K=temperature_K,
        D_run_cm2_s=at_t[0].D_cm2_s if at_t else None,
        D_run_err_cm2_s=at_t[0].D_err_cm2_s if at_t else None,
        D_fit_cm2_s=arrhenius.D300_cm2_s,  # the fit's extrapolation_K is temperature_K
        D_fit_ci_cm2_s=arrhenius.D300_ci_cm2_s,
        Ea_eV=arrhenius.Ea_eV,
        Ea_err_eV=arrhenius.Ea_err_eV,
        linear_regime_found=all(r.linear_regime_found for r in runs) if runs else None,
        sites=runs[0].sites if runs else None,
        temperatures_K=[t.temperature_K for t in arrhenius.temperatures],
    )


def study_notes(runs: list[VolumeRun]) -> list[str]:
    """Warnings a reader of the D(V) table needs: non-diffusive runs, D from the fit only."""
    notes = []
    for run in runs:
        what = (
            f"{run.cell} {run.formula} at {100 * run.volume_fraction:.0f} % V with "
            f"{run.md_potential}"
        )
        if run.D_run_cm2_s is None:
            notes.append(f"{what}: not run at {run.temperature_K:g} K; D is the Arrhenius fit's")
        elif run.linear_regime_found is False:
            notes.append(
                f"WARNING: {what}: no linear MSD regime at {run.temperature_K:g} K; "
                "D is an upper bound of the hopping rate, run longer"
            )
    return notes


def cell_label(meta: dict) -> str:
    """How the study names one cell and MD potential in its warnings."""
    made = f" made with {meta['structure_potential']}" if meta["structure_potential"] else ""
    return (
        f"{meta['cell']} {meta['formula']}{made} at {100 * meta['volume_fraction']:.0f} % V "
        f"with {meta['md_potential']}"
    )


def volume_run_warnings(cells: list[dict], docs: list[ArrheniusDocument | None]) -> list[str]:
    """Cells without an analysis, failed runs and MD warnings, one line per cell or run."""
    lines = [
        line
        for meta, doc in zip(cells, docs, strict=True)
        for line in arrhenius_run_warnings(cell_label(meta), doc)
    ]
    return list(dict.fromkeys(lines))


@job(name=STUDY_NAME)
def summarise_volume_study(
    cells: list[dict],
    arrhenius: list[ArrheniusDocument | None],
    temperature_K: float,
    classical_name: str,
) -> VolumeStudyDocument:
    """The study's document: one :class:`VolumeRun` per (cell, MD potential).

    The study gives this job ``OnMissing.NONE``: a cell whose analysis failed (None) is
    left out and named in ``run_warnings``.
    """
    docs = [ArrheniusDocument.model_validate(a) if isinstance(a, dict) else a for a in arrhenius]
    runs = [
        volume_run(meta, doc, temperature_K)
        for meta, doc in zip(cells, docs, strict=True)
        if doc is not None
    ]
    return VolumeStudyDocument(
        temperature_K=temperature_K,
        classical_potential=classical_name,
        classical_reference=classical_potential(classical_name).reference,
        runs=runs,
        run_warnings=volume_run_warnings(cells, docs),
        notes=study_notes(runs),
    )


@dataclass
class VolumeStudyMaker(Maker):
    """Crystalline cells against volume and amorphous cells, MD with each potential.

    Attributes:
        name: job name.
        volume_fractions: crystalline cells at these fractions of each configuration's
            volume (fractional positions kept).
        n_configurations: first configurations studied (None: all).
        potentials: ``mtp`` and/or ``classical``.
        classical_potential: name of the shipped classical model.
        cross: amorphous cells also get MD with the potentials that did not make them.
        supercell: repeats of the crystalline MD cells.
        conductivity_maker: MD on the temperature grid + diffusion (site analysis) +
            Arrhenius, for an MTP (its ``md_maker`` gets the classical potential for
            classical runs; its Arrhenius ``extrapolation_K`` is the report temperature).
        melt_quench_maker: the amorphous cells (its ``md_maker`` gets the potential);
            None: no amorphous cells.
        amorphous_configuration: index of the configuration melted.
        amorphous_potentials: potentials that make amorphous cells (None: ``potentials``).
        amorphous_supercell: repeats of the cell melted.
        stage_configs: stage -> jobflow manager config (cluster resources), applied to
            the jobs made at run time (:mod:`ionflow.pipeline.resources`).
    """

    name: str = "volume study"
    volume_fractions: tuple[float, ...] = DEFAULT_VOLUME_FRACTIONS
    n_configurations: int | None = None
    potentials: tuple[str, ...] = ("mtp", "classical")
    classical_potential: str = "llzo-buckingham"
    cross: bool = False
    supercell: tuple[int, int, int] = (1, 1, 1)
    conductivity_maker: ConductivityMdFlowMaker = field(default_factory=ConductivityMdFlowMaker)
    melt_quench_maker: MeltQuenchFlowMaker | None = field(default_factory=MeltQuenchFlowMaker)
    amorphous_configuration: int = 0
    amorphous_potentials: tuple[str, ...] | None = None
    amorphous_supercell: tuple[int, int, int] = (2, 2, 2)
    stage_configs: dict[str, dict] = field(default_factory=dict)

    def conductivity(self, potential: str, label: str) -> ConductivityMdFlowMaker:
        """The MD + analysis flow Maker of one cell with ``potential``."""
        md = self.conductivity_maker.md_maker
        md = dataclasses.replace(
            md,
            name=f"md {label}",
            potential=self.classical_potential if potential == "classical" else None,
            core_repulsion=None if potential == "classical" else md.core_repulsion,
        )
        return dataclasses.replace(self.conductivity_maker, md_maker=md, name=f"diffusion {label}")

    def melt_quench(self, potential: str, label: str) -> MeltQuenchFlowMaker:
        """The melt-quench flow Maker with ``potential`` (species of the MD template)."""
        maker = self.melt_quench_maker
        md = dataclasses.replace(
            maker.md_maker,
            name=f"melt quench {label}",
            potential=self.classical_potential if potential == "classical" else None,
            species=self.conductivity_maker.md_maker.species,
            engine=self.conductivity_maker.md_maker.engine,
            core_repulsion=None if potential == "classical" else maker.md_maker.core_repulsion,
        )
        return dataclasses.replace(maker, md_maker=md, name=f"melt quench {label}")

    @job
    def make(
        self,
        structures: list[Structure],
        mtp: str,
        closest_pairs_A: dict[str, float] | None = None,
    ) -> Response:
        """Replaced by every cell's MD and analysis and the summary (its output).

        Args:
            structures: the configurations (crystalline, at their reference volume).
            mtp: the fitted MTP (path or text) of the ``mtp`` runs.
            closest_pairs_A: closest pair distances of the MTP's training set (the core
                repulsion of the ``mtp`` runs).
        """
        structures = structures[: self.n_configurations]
        if self.melt_quench_maker is not None and self.amorphous_configuration >= len(structures):
            raise IonflowInputError(
                f"volumes.amorphous.configuration {self.amorphous_configuration} is not among "
                f"the {len(structures)} configurations; set it below {len(structures)}"
            )
        mtp_of = {"mtp": mtp, "classical": None}  # what make() of a run gets as its mtp
        closest_of = {"mtp": closest_pairs_A, "classical": None}
        jobs, cells, outputs = [], [], []
        for index, structure in enumerate(structures):
            formula = structure.composition.reduced_formula
            for scaled, how in volumetric_series(structure, self.volume_fractions):
                cell = make_supercell(scaled, self.supercell)
                fraction = how["volume_fraction"]
                for potential in self.potentials:
                    label = f"c{index} {100 * fraction:.0f}%V {potential}"
                    flow = self.conductivity(potential, label).make(
                        cell, mtp_of[potential], closest_pairs_A=closest_of[potential]
                    )
                    jobs.append(flow)
                    outputs.append(flow.output)
                    cells.append(
                        {
                            "configuration": index,
                            "formula": formula,
                            "cell": "crystalline",
                            "volume_fraction": fraction,
                            "density_g_cm3": float(cell.density),
                            "n_atoms": len(cell),
                            "structure_potential": None,
                            "md_potential": potential,
                        }
                    )
        if self.melt_quench_maker is not None:
            index = self.amorphous_configuration
            start = make_supercell(structures[index], self.amorphous_supercell)
            formula = start.composition.reduced_formula
            fractions = self.melt_quench_maker.expansion.fractions
            for maker_potential in self.amorphous_potentials or self.potentials:
                quench = self.melt_quench(maker_potential, f"c{index} {maker_potential}").make(
                    start, mtp_of[maker_potential], closest_of[maker_potential]
                )
                jobs.append(quench)
                md_potentials = self.potentials if self.cross else (maker_potential,)
                for k, fraction in enumerate(fractions):
                    for potential in md_potentials:
                        label = f"a-c{index} {100 * fraction:.0f}%V {maker_potential}>{potential}"
                        flow = self.conductivity(potential, label).make(
                            quench.output.structures[k],
                            mtp_of[potential],
                            closest_pairs_A=closest_of[potential],
                        )
                        jobs.append(flow)
                        outputs.append(flow.output)
                        cells.append(
                            {
                                "configuration": index,
                                "formula": formula,
                                "cell": "amorphous",
                                "volume_fraction": fraction,
                                "density_g_cm3": float(start.density) / fraction,  # NVT quench
                                "n_atoms": len(start),
                                "structure_potential": maker_potential,
                                "md_potential": potential,
                            }
                        )
        temperature_K = self.conductivity_maker.arrhenius_maker.extrapolation_K  # of D
        summary = summarise_volume_study(cells, outputs, temperature_K, self.classical_potential)
        summary.config.on_missing_references = OnMissing.NONE  # what finished, None for the rest
        replacement = Flow([*jobs, summary], output=summary.output, name=self.name)
        apply_stage_configs(replacement, self.stage_configs)
        return Response(replace=replacement)


def volume_study_maker(
    spec: WorkflowSpec, conductivity: ConductivityMdFlowMaker, stage_configs: dict[str, dict]
) -> VolumeStudyMaker | None:
    """The study's Maker from a workflow spec's ``volumes`` section (None when absent).

    ``conductivity`` is the pipeline's conductivity flow Maker (MD settings of ``md``);
    the study's runs add the site analysis (sites from the Li density) and report D at
    ``volumes.report_temperature_K``.

    Raises:
        IonflowInputError: a classical potential that does not cover the material's
            species, or an amorphous configuration index beyond the configurations.
    """
    volumes = spec.volumes
    if volumes is None:
        return None
    species = conductivity.md_maker.species
    if "classical" in volumes.potentials:
        try:
            classical_potential(volumes.classical_potential).check_species(species or [])
        except IonflowInputError as exc:
            raise IonflowInputError(f"volumes.classical_potential: {exc}") from exc
    amorphous = volumes.amorphous
    if amorphous is not None and amorphous.configuration >= spec.structures.n_configurations:
        raise IonflowInputError(
            f"volumes.amorphous.configuration {amorphous.configuration} is not among the "
            f"{spec.structures.n_configurations} configurations (structures.n_configurations)"
        )
    conductivity = dataclasses.replace(
        conductivity,
        diffusion_maker=dataclasses.replace(
            conductivity.diffusion_maker, site_analysis=True, sites_from="density"
        ),
        arrhenius_maker=dataclasses.replace(
            conductivity.arrhenius_maker, extrapolation_K=volumes.report_temperature_K
        ),
    )
    melt_quench = None
    if amorphous is not None:
        dump_every = max(1, round(spec.md.dump_interval_fs / amorphous.timestep_fs))
        melt_quench = MeltQuenchFlowMaker(
            md_maker=MeltQuenchMdMaker(
                dump_every=dump_every,
                restart_every=dump_every * 50,
                melt_temperature=amorphous.melt_temperature_K,
                melt_ps=amorphous.melt_ps,
                quench_rate_k_per_ps=amorphous.quench_rate_K_per_ps,
                temperature=amorphous.final_temperature_K,
                timestep_fs=amorphous.timestep_fs,
            ),
            expansion=AmorphousExpansionMaker(fractions=tuple(amorphous.volume_fractions)),
        )
    return VolumeStudyMaker(
        volume_fractions=tuple(volumes.volume_fractions),
        n_configurations=spec.structures.n_configurations,
        potentials=tuple(volumes.potentials),
        classical_potential=volumes.classical_potential,
        cross=volumes.cross,
        supercell=tuple(spec.md.supercell),
        conductivity_maker=conductivity,
        melt_quench_maker=melt_quench,
        amorphous_configuration=amorphous.configuration if amorphous is not None else 0,
        amorphous_potentials=tuple(amorphous.potentials)
        if amorphous is not None and amorphous.potentials
        else None,
        amorphous_supercell=tuple(amorphous.supercell) if amorphous is not None else (2, 2, 2),
        stage_configs=stage_configs,
    )
