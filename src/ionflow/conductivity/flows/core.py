"""``ConductivityMdFlowMaker``: MD on a temperature grid with repeats, then the analysis."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from jobflow import Flow, Maker, OnMissing
from pymatgen.core import Structure

from ionflow.analysis.jobs.diffusion import ArrheniusMaker, DiffusionAnalysisMaker
from ionflow.errors import IonflowInputError
from ionflow.md.jobs.lammps import LammpsMdMaker


def default_temperatures() -> list[float]:
    """The argyrodite paper's grid: 350-500 K every 25 K."""
    return [350.0 + 25.0 * k for k in range(7)]


@dataclass
class ConductivityMdFlowMaker(Maker):
    """Independent MD jobs at every temperature x repeat, handed to the analysis Makers.

    Every (temperature, repeat) pair is its own job (own seed: ``seed + 1000 * repeat +
    index of the temperature``) so a scheduler runs them in parallel. Each trajectory
    goes to a ``diffusion_maker`` job (its LAMMPS type -> element map and warnings are the
    MD job's own, read at run time) and all of them to one ``arrhenius_maker`` job, whose
    output is the flow's. With ``diffusion_maker=None`` the flow ends with the MD jobs and
    its output is the list of MD documents.

    A run that fails for good does not take the analysis with it: the Arrhenius job
    gathers with ``OnMissing.NONE`` (FireWorks: ``_allow_fizzled_parents``), leaves the
    failed runs out and names them, or fails itself with fewer than two temperatures
    left. The diffusion job of a failed run also starts (the same setting) only to fail
    at once without a trajectory: FireWorks would otherwise keep it, and so the
    Arrhenius job after it, WAITING forever.

    Attributes:
        name: flow name.
        md_maker: template for every MD job (its temperature and seed are replaced).
        temperatures: production temperatures (K).
        repeats: runs per temperature with different seeds.
        seed: base seed.
        diffusion_maker: analysis of each trajectory (its ``type_map`` is replaced by the
            MD job's, its ``timestep_fs``, if None, by ``md_maker``'s); None: no analysis.
        arrhenius_maker: Arrhenius fit over all trajectories.
        production_ps_by_temperature: production time (ps) of each entry of
            ``temperatures`` (the LSTH study: longer runs where diffusion is slow); None:
            ``md_maker.production_ps`` everywhere.
    """

    name: str = "conductivity md"
    md_maker: LammpsMdMaker = field(default_factory=LammpsMdMaker)
    temperatures: list[float] = field(default_factory=default_temperatures)
    repeats: int = 2
    seed: int = 12345
    diffusion_maker: DiffusionAnalysisMaker | None = field(default_factory=DiffusionAnalysisMaker)
    arrhenius_maker: ArrheniusMaker = field(default_factory=ArrheniusMaker)
    production_ps_by_temperature: list[float] | None = None

    def make(
        self,
        structure: Structure,
        mtp: str,
        species: list[str] | None = None,
        closest_pairs_A: dict[str, float] | None = None,
    ) -> Flow:
        """Build the flow for ``structure`` with the potential ``mtp`` (path or text).

        Every argument may be an output of an upstream job (``supercell.output...``,
        ``fit.output.mtp``, ``fit.output.species``, ``fit.output.closest_pairs_A``, which
        the MD's core repulsion needs): nothing here reads them.

        Raises:
            IonflowInputError: for an empty temperature grid, fewer than one repeat or an
                ``md_maker`` with its own protocol.
        """
        if not self.temperatures or self.repeats < 1:
            raise IonflowInputError("give at least one temperature (K) and repeats >= 1")
        if self.md_maker.protocol is not None:
            raise IonflowInputError(
                "ConductivityMdFlowMaker sets temperatures itself; give md_maker "
                "without an explicit protocol"
            )
        lengths = self.production_ps_by_temperature
        if lengths is None:
            lengths = [self.md_maker.production_ps] * len(self.temperatures)
        if len(lengths) != len(self.temperatures) or min(lengths) <= 0:
            raise IonflowInputError(
                f"give one positive production time per temperature ({len(self.temperatures)}"
                f"), got {lengths}"
            )
        md_jobs = [
            dataclasses.replace(
                self.md_maker,
                temperature=temperature,
                production_ps=lengths[k],
                seed=self.seed + 1000 * repeat + k,
                name=f"{self.md_maker.name} {temperature:g} K #{repeat + 1}",
            ).make(structure, mtp, species=species, closest_pairs_A=closest_pairs_A)
            for repeat in range(self.repeats)
            for k, temperature in enumerate(self.temperatures)
        ]
        if self.diffusion_maker is None:
            return Flow(md_jobs, output=[j.output for j in md_jobs], name=self.name)
        diffusion = self.diffusion_maker
        if diffusion.timestep_fs is None:  # frames are counted in the MD's own steps
            diffusion = dataclasses.replace(diffusion, timestep_fs=self.md_maker.timestep_fs)
        diffusion_jobs = [
            diffusion.make(
                j.output.trajectory_file,
                j.output.temperature_k,
                type_map=j.output.type_map,
                md_warnings=j.output.warnings,
            )
            for j in md_jobs
        ]
        runs = [
            (temperature, repeat + 1)
            for repeat in range(self.repeats)
            for temperature in self.temperatures
        ]
        arrhenius = self.arrhenius_maker.make([j.output for j in diffusion_jobs], runs=runs)
        for gathering in [*diffusion_jobs, arrhenius]:
            gathering.config.on_missing_references = OnMissing.NONE
        return Flow([*md_jobs, *diffusion_jobs, arrhenius], output=arrhenius.output, name=self.name)
