"""Makers of the analysis stage: one trajectory -> D; several temperatures -> E_a."""

from __future__ import annotations

from dataclasses import dataclass, field

from jobflow import Maker, job

from ionflow.analysis.schemas.diffusion import ArrheniusDocument, DiffusionDocument


@dataclass
class DiffusionAnalysisMaker(Maker):
    """Analyse one MD trajectory: MSD, D with error, Nernst-Einstein sigma.

    Attributes:
        name: job name.
        species: diffusing species (element symbol).
        type_map: LAMMPS type -> element (``{"1": "Li"}``), for dumps without elements.
        timestep_fs: MD time step in fs (None: times stored in the file).
        window_fs: fit window (start, end) in fs; None chooses it from the MSD.
    """

    name: str = "diffusion analysis"
    species: str = "Li"
    type_map: dict[str, str] = field(default_factory=dict)
    timestep_fs: float | None = None
    window_fs: tuple[float, float] | None = None

    @job(output_schema=DiffusionDocument)
    def make(self, trajectory: str, temperature_K: float) -> DiffusionDocument:
        """Analyse ``trajectory`` (a file path) at ``temperature_K`` (K)."""
        return DiffusionDocument.from_file(
            trajectory,
            self.species,
            temperature_K,
            type_map=self.type_map,
            timestep_fs=self.timestep_fs,
            window_fs=self.window_fs,
        )


@dataclass
class ArrheniusMaker(Maker):
    """Combine diffusion results over temperatures into an Arrhenius analysis.

    Attributes:
        name: job name.
        extrapolation_K: temperature of the extrapolated D and sigma, in K.
    """

    name: str = "arrhenius"
    extrapolation_K: float = 300.0

    @job(output_schema=ArrheniusDocument)
    def make(self, diffusion_documents: list[DiffusionDocument]) -> ArrheniusDocument:
        """Fit E_a from the outputs of :class:`DiffusionAnalysisMaker` jobs."""
        docs = [
            d if isinstance(d, DiffusionDocument) else DiffusionDocument.model_validate(d)
            for d in diffusion_documents
        ]
        return ArrheniusDocument.from_diffusion_documents(docs, self.extrapolation_K)
