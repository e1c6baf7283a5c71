"""The pipeline's closing report.

What labelled the data, how good the MTP is, and the conductivity per configuration and
configuration-weighted, next to the published values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobflow import Maker, job
from pydantic import BaseModel, Field

from ionflow.analysis.conductivity import (
    configuration_weighted_conductivity,
    crystallinity_corrected_conductivity,
)
from ionflow.analysis.schemas.diffusion import ArrheniusDocument
from ionflow.dft.schemas.labels import LabelledSetDocument
from ionflow.dft.schemas.runs import RelaxDocument
from ionflow.learning.schemas.active_learning import ActiveLearningDocument
from ionflow.mtp.schemas.fit import MtpFitDocument
from ionflow.structures.boltzmann import boltzmann_weights

# shared SPEC.md, "Reference numbers": material -> (quantity, value, unit)
PUBLISHED: dict[str, list[tuple[str, float, str]]] = {
    "Li6PS5Cl": [("sigma_bulk^80% at 300 K (MTP optB88-vdW)", 2.46, "mS/cm")],
    "Li6PS5Br": [("sigma_bulk^80% at 300 K", 1.8, "mS/cm")],
    "Li6PS5I": [("sigma_bulk^80% at 300 K", 0.5, "mS/cm")],
    "LLZO": [("E_a crystalline (ML)", 0.25, "eV")],
    "LSTH-24k": [("E_a 328-700 K (SQS)", 0.43, "eV"), ("sigma 298 K", 0.031, "mS/cm")],
    "LSTH-1a": [("E_a 298-600 K (ESGS)", 0.22, "eV"), ("sigma 298 K", 4.05, "mS/cm")],
}


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
    sigma_bulk_mS_cm: float = Field(description="Configuration-weighted, 100 % crystalline.")
    sigma_bulk_err_mS_cm: float | None
    crystallinity: float
    sigma_bulk_crystallinity_mS_cm: float = Field(
        description="sigma_bulk scaled to the crystallinity (sigma_bulk^80% for 0.8)."
    )
    published: list[dict[str, Any]] = Field(default_factory=list)
    arrhenius: list[ArrheniusDocument] = Field(
        default_factory=list, description="Per-configuration Arrhenius analyses."
    )
    notes: list[str] = Field(default_factory=list)


def configuration_results(
    relaxed: list[RelaxDocument], arrhenius: list[ArrheniusDocument], temperature_K: float
) -> list[ConfigurationResult]:
    """One result per configuration, weighted by the Boltzmann factors of its relaxed energy.

    Weights are Boltzmann factors of the relaxed energies per atom (eV) at
    ``temperature_K`` (K); equal weights when nothing was relaxed.
    """
    relative: list[float | None] = [None] * len(arrhenius)
    weights = [1.0 / len(arrhenius)] * len(arrhenius)
    if relaxed and len(relaxed) == len(arrhenius):
        per_atom = [doc.energy / len(doc.structure) for doc in relaxed]
        relative = [e - min(per_atom) for e in per_atom]
        weights = list(boltzmann_weights(relative, temperature_K))
    return [
        ConfigurationResult(
            index=index,
            formula=relaxed[index].structure.composition.reduced_formula if relaxed else "",
            n_atoms=len(relaxed[index].structure) if relaxed else 0,
            relative_energy_eV_atom=relative[index],
            weight=weights[index],
            Ea_eV=doc.Ea_eV,
            Ea_err_eV=doc.Ea_err_eV,
            sigma300_mS_cm=doc.sigma300_mS_cm,
            sigma300_ci_mS_cm=doc.sigma300_ci_mS_cm,
            break_K=doc.break_K,
        )
        for index, doc in enumerate(arrhenius)
    ]


def learning_summary(active: ActiveLearningDocument) -> dict[str, Any]:
    """Iterations, structures labelled and largest grade per iteration, why it stopped."""
    return {
        "iterations": len(active.iterations),
        "labelled_per_iteration": [it.n_labelled for it in active.iterations],
        "max_grade_per_iteration": [it.grade_max for it in active.iterations],
        "stop_reason": active.stop_reason,
    }


@dataclass
class PipelineReportMaker(Maker):
    """The closing report job: bulk conductivity from the per-configuration results.

    Attributes:
        name: job name.
        workflow_name: the workflow's name, shown in the report.
        material: parent material (its published values are listed beside the results).
        crystallinity: factor of sigma_bulk^80% (0.8).
        weight_temperature_K: temperature of the Boltzmann weights of configurations, K.
    """

    name: str = "report"
    workflow_name: str = ""
    material: str = ""
    crystallinity: float = 0.8
    weight_temperature_K: float = 300.0

    @job
    def make(
        self,
        relaxed: list[RelaxDocument],
        arrhenius: list[ArrheniusDocument],
        fit: MtpFitDocument,
        labelled: LabelledSetDocument,
        active: ActiveLearningDocument | None = None,
    ) -> PipelineReportDocument:
        """Combine the per-configuration Arrhenius results into the bulk conductivity."""
        configurations = configuration_results(relaxed, arrhenius, self.weight_temperature_K)
        # half-width of the 95 % interval / 1.96 as a standard error per configuration
        errors = [(c.sigma300_ci_mS_cm[1] - c.sigma300_ci_mS_cm[0]) / 3.92 for c in configurations]
        sigma_bulk, sigma_err = configuration_weighted_conductivity(
            [c.sigma300_mS_cm for c in configurations],
            weights=[c.weight for c in configurations],
            sigma_err_mS_cm=errors,
        )
        validation = fit.validation_errors or fit.train_errors
        if active is not None:
            refits = [it.validation_errors for it in active.iterations if it.validation_errors]
            validation = refits[-1] if refits else validation
        notes = []
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
            extrapolation_K=arrhenius[0].extrapolation_K if arrhenius else 300.0,
            configurations=configurations,
            sigma_bulk_mS_cm=sigma_bulk,
            sigma_bulk_err_mS_cm=sigma_err,
            crystallinity=self.crystallinity,
            sigma_bulk_crystallinity_mS_cm=crystallinity_corrected_conductivity(
                sigma_bulk, self.crystallinity
            ),
            published=[
                {"quantity": q, "value": v, "unit": u}
                for q, v, u in PUBLISHED.get(self.material, [])
            ],
            arrhenius=arrhenius,
            notes=notes,
        )
