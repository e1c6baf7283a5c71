"""``ConductivityMdFlowMaker``: MD on a temperature grid with repeats, then the analysis."""

from __future__ import annotations

from dataclasses import dataclass, field

from jobflow import Flow, Maker
from pymatgen.core import Structure

from ionflow.analysis.jobs.diffusion import ArrheniusMaker, DiffusionAnalysisMaker
from ionflow.errors import IonflowInputError
from ionflow.md.jobs.lammps import LammpsMdMaker, species_of


def default_temperatures() -> list[float]:
    """The argyrodite paper's grid: 350-500 K every 25 K."""
    return [350.0 + 25.0 * k for k in range(7)]


@dataclass
class ConductivityMdFlowMaker(Maker):
    """Independent MD jobs at every temperature x repeat, handed to the analysis Makers.

    Every (temperature, repeat) pair is its own job (own seed: ``seed + 1000 * repeat +
    index of the temperature``) so a scheduler runs them in parallel. Each trajectory goes
    to a ``DiffusionAnalysisMaker`` job and all of them to one ``ArrheniusMaker`` job; with
    ``analysis=False`` the flow ends with the MD jobs and its output is the list of MD
    documents.

    Attributes:
        name: flow name.
        md_maker: template for every MD job (its temperature and seed are replaced).
        temperatures: production temperatures (K).
        repeats: runs per temperature with different seeds.
        seed: base seed.
        analysis: add the analysis jobs.
    """

    name: str = "conductivity md"
    md_maker: LammpsMdMaker = field(default_factory=LammpsMdMaker)
    temperatures: list[float] = field(default_factory=default_temperatures)
    repeats: int = 2
    seed: int = 12345
    analysis: bool = True

    def make(self, structure: Structure, mtp: str, species: list[str] | None = None) -> Flow:
        """Build the flow for ``structure`` with the potential ``mtp`` (path or text).

        ``mtp`` and ``species`` may be outputs of the MTP stage (``fit.output.mtp``,
        ``fit.output.species``). The analysis jobs need the LAMMPS type -> element map
        when the flow is built: it comes from ``species`` if it is a list, else from the
        Maker's ``species``, else from the default order (sorted by atomic number, the
        MTP stage's default too).

        Raises:
            IonflowInputError: for an empty temperature grid or fewer than one repeat.
        """
        if not self.temperatures or self.repeats < 1:
            raise IonflowInputError("give at least one temperature (K) and repeats >= 1")
        md_jobs = []
        for repeat in range(self.repeats):
            for k, temperature in enumerate(self.temperatures):
                maker = self.md_maker.__class__(
                    **{
                        **self.md_maker.__dict__,
                        "temperature": temperature,
                        "seed": self.seed + 1000 * repeat + k,
                        "name": f"{self.md_maker.name} {temperature:g} K #{repeat + 1}",
                    }
                )
                if maker.protocol is not None:
                    raise IonflowInputError(
                        "ConductivityMdFlowMaker sets temperatures itself; give md_maker "
                        "without an explicit protocol"
                    )
                md_jobs.append(maker.make(structure, mtp, species=species))
        jobs: list = list(md_jobs)
        output = [job.output for job in md_jobs]
        if self.analysis:
            known = species if isinstance(species, list) else None
            order = known or self.md_maker.species or species_of(structure)
            type_map = {str(k + 1): s for k, s in enumerate(order)}
            diffusion_jobs = [
                DiffusionAnalysisMaker(
                    species=self.md_maker.dump_species[0],
                    type_map=type_map,
                    timestep_fs=self.md_maker.timestep_fs,
                ).make(job.output.trajectory_file, job.output.temperature_k)
                for job in md_jobs
            ]
            arrhenius = ArrheniusMaker().make([j.output for j in diffusion_jobs])
            jobs += [*diffusion_jobs, arrhenius]
            output = arrhenius.output
        return Flow(jobs, output=output, name=self.name)
