"""The pipeline's closing report.

What labelled the data, how good the MTP is, and the conductivity per configuration and
configuration-weighted, next to the published values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jobflow import Maker, job
from pydantic import BaseModel, Field
from pymatgen.core import Structure

from ionflow.analysis.conductivity import MixingRule, weighted_conductivity_interval
from ionflow.analysis.schemas.diffusion import ArrheniusDocument, arrhenius_run_warnings
from ionflow.dft.schemas.labels import LabelledSetDocument
from ionflow.dft.schemas.runs import RelaxDocument
from ionflow.errors import IonflowInputError, MissingResultsError
from ionflow.learning.schemas.active_learning import ActiveLearningDocument, ActiveLearningIteration
from ionflow.mtp.schemas.fit import MtpFitDocument, SplitErrors
from ionflow.structures.boltzmann import boltzmann_weights_by_group

# shared SPEC.md, "Reference numbers": material -> (quantity, value, unit)
PUBLISHED: dict[str, list[tuple[str, float, str]]] = {
    "Li6PS5Cl": [("sigma_bulk^80% at 300 K (MTP optB88-vdW)", 2.46, "mS/cm")],
    "Li6PS5Br": [("sigma_bulk^80% at 300 K", 1.8, "mS/cm")],
    "Li6PS5I": [("sigma_bulk^80% at 300 K", 0.5, "mS/cm")],
    "LLZO": [("E_a crystalline (ML)", 0.25, "eV")],
    "LLZO-primitive": [("E_a crystalline (ML)", 0.25, "eV")],
    "LSTH-24k": [
        ("E_a 328-700 K (SQS)", 0.43, "eV"),
        ("sigma 298 K", 0.031, "mS/cm"),
        ("E_a 700-1500 K (SQS)", 0.15, "eV"),
        ("kink (SQS)", 700.0, "K"),
    ],
    "LSTH-1a": [
        ("E_a 298-600 K (ESGS)", 0.22, "eV"),
        ("sigma 298 K", 4.05, "mS/cm"),
        ("E_a 600-1500 K (ESGS)", 0.11, "eV"),
        ("kink (ESGS)", 600.0, "K"),
    ],
}


MIXING_RULE_TEXT: dict[str, str] = {
    "parallel": "parallel mixing: σ = c·σ_cryst + (1 − c)·σ_amorph",
    "series": "series mixing: 1/σ = c/σ_cryst + (1 − c)/σ_amorph",
}
"""How each rule is stated on reports (the paper's own rule is in its supplement)."""


def interval_text(
    value: float | None, interval: tuple[float, float] | None, unit: str = " mS/cm"
) -> str:
    """``value [low, high] unit`` (95 % interval), or the value alone for older documents.

    ``not computed`` where there is no value (runs that failed left too little).
    """
    if value is None:
        return "not computed"
    if interval is None:
        return f"{value:.3g}{unit}"
    return f"{value:.3g} [{interval[0]:.3g}, {interval[1]:.3g}]{unit} (95 %)"


class ConfigurationResult(BaseModel):
    """Conductivity of one characteristic configuration."""

    index: int
    formula: str
    n_atoms: int
    relative_energy_eV_atom: float | None = Field(
        None, description="Relaxed energy relative to the lowest configuration, eV/atom."
    )
    weight: float = Field(description="Weight in the bulk conductivity.")
    Ea_eV: float
    Ea_err_eV: float
    sigma300_mS_cm: float
    sigma300_ci_mS_cm: tuple[float, float]
    break_K: float | None = None


class CompositionResult(BaseModel):
    """Configuration-weighted conductivity of the configurations of one composition."""

    formula: str = Field(description="Reduced formula ('' when nothing was relaxed).")
    configurations: list[int] = Field(description="Indices of its configurations.")
    sigma_bulk_mS_cm: float
    sigma_bulk_interval_mS_cm: tuple[float, float]
    sigma_bulk_crystallinity_mS_cm: float
    sigma_bulk_crystallinity_interval_mS_cm: tuple[float, float]


def composition_results(
    configurations: list[ConfigurationResult],
    crystallinity: float,
    sigma_amorphous_mS_cm: float,
    mixing_rule: MixingRule,
) -> list[CompositionResult]:
    """sigma_bulk and sigma_bulk^c per composition, each weighted over its own configurations.

    A composition whose weights do not add up to 1 lost a configuration (no Arrhenius
    fit: its runs failed) and gets no sigma_bulk: the missing weight has no sigma.
    """
    results = []
    for formula in dict.fromkeys(c.formula for c in configurations):
        members = [c for c in configurations if c.formula == formula]
        if sum(c.weight for c in members) < 1.0 - 1e-9:
            continue
        args = (
            [c.sigma300_mS_cm for c in members],
            [c.sigma300_ci_mS_cm for c in members],
            [c.weight for c in members],
        )
        bulk = weighted_conductivity_interval(*args)
        mixed = weighted_conductivity_interval(
            *args, crystallinity, sigma_amorphous_mS_cm, mixing_rule
        )
        results.append(
            CompositionResult(
                formula=formula,
                configurations=[c.index for c in members],
                sigma_bulk_mS_cm=bulk.value_mS_cm,
                sigma_bulk_interval_mS_cm=(bulk.low_mS_cm, bulk.high_mS_cm),
                sigma_bulk_crystallinity_mS_cm=mixed.value_mS_cm,
                sigma_bulk_crystallinity_interval_mS_cm=(mixed.low_mS_cm, mixed.high_mS_cm),
            )
        )
    return results


def headline_composition(
    compositions: list[CompositionResult], parent_formula: str
) -> CompositionResult | None:
    """The composition the report's sigma_bulk stands for: the parent's, else the first.

    None when no composition has a sigma_bulk (every one lost a configuration).
    """
    return next(
        (c for c in compositions if c.formula == parent_formula),
        compositions[0] if compositions else None,
    )


class PipelineReportDocument(BaseModel):
    """Summary of a whole ionflow workflow (one task document)."""

    name: str
    material: str
    oracle: str = Field(description="Engine that labelled the training data.")
    level_of_theory: str
    n_labelled: int = Field(description="Training structures of the final MTP.")
    active_learning: dict[str, Any] | None = Field(
        None, description="Iterations, structures added per iteration, why it stopped."
    )
    mtp_level: int
    mtp_r_cut_A: float
    validation_energy_rmse_meV_atom: float | None
    validation_force_rmse_eV_A: float | None
    extrapolation_K: float
    configurations: list[ConfigurationResult]
    compositions: list[CompositionResult] = Field(
        default_factory=list,
        description="sigma_bulk per composition (configurations are weighted only among "
        "those of the same composition); the sigma_bulk fields are those of one of them.",
    )
    sigma_bulk_mS_cm: float | None = Field(
        description="Configuration-weighted, 100 % crystalline (None: a configuration of "
        "the composition has no Arrhenius fit, its runs failed)."
    )
    sigma_bulk_interval_mS_cm: tuple[float, float] | None = Field(
        None,
        description="95 % interval of sigma_bulk, propagated from the per-configuration "
        "Arrhenius fits (log-normal parts, sampled): asymmetric and positive.",
    )
    crystallinity: float
    mixing_rule: MixingRule = Field(
        "parallel", description="Rule from sigma_bulk to sigma_bulk^c (see MIXING_RULE_TEXT)."
    )
    sigma_amorphous_mS_cm: float = Field(0.0, description="Amorphous-fraction sigma, mS/cm.")
    sigma_bulk_crystallinity_mS_cm: float | None = Field(
        description="sigma_bulk mixed to the crystallinity (sigma_bulk^80% for 0.8)."
    )
    sigma_bulk_crystallinity_interval_mS_cm: tuple[float, float] | None = Field(
        None, description="95 % interval of sigma_bulk^c, propagated like sigma_bulk's."
    )
    published: list[dict[str, Any]] = Field(default_factory=list)
    arrhenius: list[ArrheniusDocument] = Field(
        default_factory=list,
        description="Arrhenius analyses of the configurations in ``configurations``.",
    )
    n_configurations_planned: int | None = Field(
        None, description="Configurations run (None: those of ``configurations``)."
    )
    run_warnings: list[str] = Field(
        default_factory=list,
        description="Runs that failed (configuration, temperature) and warnings of the MD "
        "runs behind the numbers, at most one line per run.",
    )
    notes: list[str] = Field(default_factory=list)


def rmse_target_warnings(
    what: str,
    energy_meV_atom: float | None,
    force_eV_A: float | None,
    energy_target_meV_atom: float,
    force_target_eV_A: float,
) -> list[str]:
    """One sentence per RMSE above its target (``what``: whose errors, e.g. "MTP held-out")."""
    warnings = []
    if energy_meV_atom is not None and energy_meV_atom > energy_target_meV_atom:
        warnings.append(
            f"{what} energy RMSE {energy_meV_atom:.1f} meV/atom is above the target "
            f"{energy_target_meV_atom:g} meV/atom."
        )
    if force_eV_A is not None and force_eV_A > force_target_eV_A:
        warnings.append(
            f"{what} force RMSE {force_eV_A:.3f} eV/Å is above the target "
            f"{force_target_eV_A:g} eV/Å."
        )
    return warnings


def heldout_warnings(
    errors: SplitErrors, energy_target_meV_atom: float = 10.0, force_target_eV_A: float = 0.2
) -> list[str]:
    """Warnings when the final MTP's held-out errors exceed the targets."""
    return [
        f"WARNING: {sentence} The conductivities stand on a potential that misses it."
        for sentence in rmse_target_warnings(
            "MTP held-out",
            errors.energy_per_atom.rmse * 1000,
            errors.forces.rmse,
            energy_target_meV_atom,
            force_target_eV_A,
        )
    ]


def configuration_results(
    relaxed: list[RelaxDocument],
    arrhenius: list[ArrheniusDocument],
    temperature_K: float,
    structures: list[Structure] | None = None,
) -> list[ConfigurationResult]:
    """One result per configuration, weighted by the Boltzmann factors of its relaxed energy.

    ``arrhenius`` is None for a configuration without a fit (its runs failed): it gets no
    result but keeps its weight, so the weights of its composition add up to less than 1.

    Weights are Boltzmann factors of the relaxed energies per atom (eV) at
    ``temperature_K`` (K), normalised within each composition (reduced formula): the
    energies of cells of different composition (LLZO's Li_x) are never compared, and the
    weights of each composition sum to 1. Equal weights within each composition when
    nothing was relaxed (compositions then from ``structures``, the cells MD started from;
    without them all configurations count as one composition).
    """
    n = len(arrhenius)
    relative: list[float | None] = [None] * n
    cells = structures if structures and len(structures) == n else None
    if relaxed and len(relaxed) == n:
        cells = [doc.structure for doc in relaxed]
    formulas = [c.composition.reduced_formula for c in cells] if cells else [""] * n
    weights = [1.0 / formulas.count(f) for f in formulas]
    if relaxed and len(relaxed) == n:
        per_atom = [doc.energy / len(doc.structure) for doc in relaxed]
        lowest = {f: min(e for e, g in zip(per_atom, formulas, strict=True) if g == f)
                  for f in formulas}  # fmt: skip
        relative = [e - lowest[f] for e, f in zip(per_atom, formulas, strict=True)]
        weights = list(boltzmann_weights_by_group(per_atom, formulas, temperature_K))
    return [
        ConfigurationResult(
            index=index,
            formula=formulas[index],
            n_atoms=len(cells[index]) if cells else 0,
            relative_energy_eV_atom=relative[index],
            weight=weights[index],
            Ea_eV=doc.Ea_eV,
            Ea_err_eV=doc.Ea_err_eV,
            sigma300_mS_cm=doc.sigma300_mS_cm,
            sigma300_ci_mS_cm=doc.sigma300_ci_mS_cm,
            break_K=doc.break_K,
        )
        for index, doc in enumerate(arrhenius)
        if doc is not None
    ]


def run_warnings(arrhenius: list[ArrheniusDocument | None]) -> list[str]:
    """Failed runs and MD warnings of every configuration, at most one line per run."""
    lines = [
        line
        for index, doc in enumerate(arrhenius)
        for line in arrhenius_run_warnings(f"configuration {index}", doc)
    ]
    return list(dict.fromkeys(lines))


def parent_formula(material: str) -> str:
    """Reduced formula of the workflow's parent material ('' if it cannot be read)."""
    from ionflow.structures.parents import get_parent_structure

    try:
        return get_parent_structure(material).composition.reduced_formula
    except IonflowInputError:
        return ""


def learning_summary(active: ActiveLearningDocument) -> dict[str, Any]:
    """Iterations, structures labelled, largest grade, held-out force RMSE, why it stopped."""
    return {
        "iterations": len(active.iterations),
        "labelled_per_iteration": [it.n_labelled for it in active.iterations],
        "max_grade_per_iteration": [it.grade_max for it in active.iterations],
        "stop_reason": active.stop_reason,
        "heldout_force_rmse_per_iteration_eV_A": [
            it.heldout_errors.forces.rmse if it.heldout_errors else None for it in active.iterations
        ],
    }


UNRESOLVED_DECADES = 3.0  # a sigma interval wider than this many decades on a side says little


def unresolved_sigma_warnings(
    configurations: list[ConfigurationResult], extrapolation_K: float
) -> list[str]:
    """Notes for configurations whose sigma interval spans > 3 decades on either side."""
    notes = []
    for c in configurations:
        low, high = c.sigma300_ci_mS_cm
        decades = max(
            math.log10(high / c.sigma300_mS_cm) if high > 0 else math.inf,
            math.log10(c.sigma300_mS_cm / low) if low > 0 else math.inf,
        )
        if decades > UNRESOLVED_DECADES:
            notes.append(
                f"configuration {c.index}: sigma({extrapolation_K:g} K) is not resolved (its 95 % "
                f"interval spans {decades:.0f} decades either side; E_a = {c.Ea_eV:.3f} +- "
                f"{c.Ea_err_eV:.3f} eV): run the MD longer or at more temperatures"
            )
    return notes


def learning_warnings(
    iterations: Sequence[ActiveLearningIteration | dict] | None,
    stop_reason: str = "",
    loop: str = "active learning",
) -> list[str]:
    """A warning when the final potential still left its trained region in exploration.

    The last round of the loop always explores with the potential the production MD
    uses (at ``max_iterations`` it only checks it, labelling nothing); runs of that round
    stopped above gamma_break, at an unphysical configuration or at a pair below its
    trust level mean the MD may run on extrapolation.

    Args:
        iterations: the loop's iteration records (``ActiveLearningDocument.iterations``);
            None or empty: no loop, no warning.
        stop_reason: why the loop stopped.
        loop: what the warning calls the loop (e.g. "grain-boundary active learning").
    """
    if not iterations:
        return []
    last = iterations[-1]
    row = last if isinstance(last, dict) else last.model_dump()
    stopped, unphysical, contact = (
        row.get(key, 0) for key in ("runs_stopped", "runs_unphysical", "runs_contact")
    )
    if stopped == 0 and unphysical == 0 and contact == 0:
        return []
    return [
        f"WARNING: {loop} did not converge ({stop_reason}): with the final "
        f"potential {stopped} exploration run(s) stopped above gamma_break "
        f"(largest grade {row.get('grade_max', 0.0):.1f}), {unphysical} at an "
        f"unphysical configuration and {contact} at a pair below its trust "
        "level; the MD runs on extrapolation (raise the loop's max_iterations or md_steps)"
    ]


@dataclass
class PipelineReportMaker(Maker):
    """The closing report job: bulk conductivity from the per-configuration results.

    Attributes:
        name: job name.
        workflow_name: the workflow's name, shown in the report.
        material: parent material (its published values are listed beside the results).
        crystallinity: crystalline fraction c of sigma_bulk^c (0.8).
        mixing_rule: ``parallel`` or ``series`` (see MIXING_RULE_TEXT).
        sigma_amorphous_mS_cm: conductivity of the amorphous fraction, mS/cm.
        weight_temperature_K: temperature of the Boltzmann weights of configurations, K.
        target_energy_rmse_meV_atom: warn above this held-out energy RMSE.
        target_force_rmse_eV_A: warn above this held-out force RMSE.
    """

    name: str = "report"
    workflow_name: str = ""
    material: str = ""
    crystallinity: float = 0.8
    mixing_rule: MixingRule = "parallel"
    sigma_amorphous_mS_cm: float = 0.0
    weight_temperature_K: float = 300.0
    target_energy_rmse_meV_atom: float = 10.0
    target_force_rmse_eV_A: float = 0.2

    @job
    def make(
        self,
        relaxed: list[RelaxDocument],
        arrhenius: list[ArrheniusDocument | None] | None,
        fit: MtpFitDocument,
        labelled: LabelledSetDocument,
        active: ActiveLearningDocument | None = None,
        structures: list[Structure] | None = None,
    ) -> PipelineReportDocument:
        """Combine the per-configuration Arrhenius results into the bulk conductivity.

        ``structures`` (the cells MD started from) name the compositions when nothing
        was relaxed. The pipeline gives this job ``OnMissing.NONE``: an ``arrhenius`` entry
        (or the whole list) is None where a configuration's analysis failed, and the
        report covers the rest and says what is missing (``run_warnings``).

        Raises:
            MissingResultsError: no MTP fit or training set (nothing to report on).
        """
        if fit is None or labelled is None:
            raise MissingResultsError(
                "the MTP fit or the labelled training set failed: nothing to report on"
            )
        if arrhenius is None:  # the whole conductivity stage failed
            arrhenius = [None] * (len(relaxed or []) or len(structures or []) or 1)
        fitted = [doc for doc in arrhenius if doc is not None]
        configurations = configuration_results(
            relaxed, arrhenius, self.weight_temperature_K, structures
        )
        compositions = composition_results(
            configurations, self.crystallinity, self.sigma_amorphous_mS_cm, self.mixing_rule
        )
        headline = headline_composition(compositions, parent_formula(self.material))
        validation = fit.validation_errors or fit.train_errors
        if active is not None:
            refits = [it.validation_errors for it in active.iterations if it.validation_errors]
            validation = active.heldout_errors or (refits[-1] if refits else validation)
        notes = heldout_warnings(
            validation, self.target_energy_rmse_meV_atom, self.target_force_rmse_eV_A
        )
        if active is not None:
            notes += learning_warnings(active.iterations, active.stop_reason)
        extrapolation_K = fitted[0].extrapolation_K if fitted else 300.0
        notes += unresolved_sigma_warnings(configurations, extrapolation_K)
        if headline is None:
            notes.append(
                "WARNING: no sigma_bulk: every composition lost a configuration whose runs "
                "failed (see run_warnings); the configurations with a fit are listed"
            )
        elif len(fitted) < len(arrhenius):
            notes.append(
                f"WARNING: {len(fitted)} of {len(arrhenius)} configurations have an Arrhenius "
                f"fit; sigma_bulk is that of {headline.formula}, whose configurations all have one"
            )
        if len(compositions) > 1:
            notes.append(
                f"{len(compositions)} compositions: configurations are Boltzmann-weighted only "
                f"within a composition; sigma_bulk is that of {headline.formula} (the others "
                "are listed per composition)"
            )
        if labelled.oracle != "vasp":
            notes.append(
                f"training data labelled by {labelled.oracle}, not by the published VASP "
                "setup: compare with published values only qualitatively"
            )
        return PipelineReportDocument(
            name=self.workflow_name,
            material=self.material,
            oracle=labelled.oracle,
            level_of_theory=labelled.level_of_theory,
            n_labelled=active.n_training if active is not None else labelled.n_labelled,
            active_learning=learning_summary(active) if active is not None else None,
            mtp_level=fit.level,
            mtp_r_cut_A=fit.r_cut,
            validation_energy_rmse_meV_atom=validation.energy_per_atom.rmse * 1000,
            validation_force_rmse_eV_A=validation.forces.rmse,
            extrapolation_K=extrapolation_K,
            configurations=configurations,
            compositions=compositions,
            sigma_bulk_mS_cm=headline.sigma_bulk_mS_cm if headline else None,
            sigma_bulk_interval_mS_cm=headline.sigma_bulk_interval_mS_cm if headline else None,
            crystallinity=self.crystallinity,
            mixing_rule=self.mixing_rule,
            sigma_amorphous_mS_cm=self.sigma_amorphous_mS_cm,
            sigma_bulk_crystallinity_mS_cm=headline.sigma_bulk_crystallinity_mS_cm
            if headline
            else None,
            sigma_bulk_crystallinity_interval_mS_cm=headline.sigma_bulk_crystallinity_interval_mS_cm
            if headline
            else None,
            published=[
                {"quantity": q, "value": v, "unit": u}
                for q, v, u in PUBLISHED.get(self.material, [])
            ],
            arrhenius=fitted,
            n_configurations_planned=len(arrhenius),
            run_warnings=run_warnings(arrhenius),
            notes=notes,
        )
