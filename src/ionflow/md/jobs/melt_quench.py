"""``MeltQuenchMdMaker``: the MD side of amorphous cells (melt, hold, quench at K/ps)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ionflow.md.jobs.lammps import LammpsMdMaker
from ionflow.md.schemas.protocol import (
    MELT_HOLD_PS,
    MELT_QUENCH_TIMESTEP_FS,
    MELT_TEMPERATURE_K,
    QUENCH_FINAL_TEMPERATURE_K,
    QUENCH_RATE_K_PER_PS,
    MdProtocol,
    melt_quench_protocol,
)


@dataclass
class MeltQuenchMdMaker(LammpsMdMaker):
    """Melt at ``melt_temperature``, hold ``melt_ps``, quench linearly to ``temperature``.

    Defaults follow the LLZO study (3000 K for 1 ns, 5 K/ps down to 500 K, NVT, 1 fs).
    All species are written to the trajectory and the document's ``final_structure`` is
    the quenched cell. Same engines, checkpoints and segments as :class:`LammpsMdMaker`.

    Attributes:
        melt_temperature: melt and hold temperature (K).
        melt_ps: hold time (ps).
        quench_rate_k_per_ps: cooling rate (K/ps).
        temperature: final temperature of the quench (K).
    """

    name: str = "melt quench md"
    temperature: float = QUENCH_FINAL_TEMPERATURE_K
    melt_temperature: float = MELT_TEMPERATURE_K
    melt_ps: float = MELT_HOLD_PS
    quench_rate_k_per_ps: float = QUENCH_RATE_K_PER_PS
    timestep_fs: float = MELT_QUENCH_TIMESTEP_FS
    dump_every: int = 1000
    restart_every: int = 10_000
    dump_species: list[str] = field(default_factory=lambda: ["*"])  # "*": every species

    @property
    def quench_ps(self) -> float:
        """Duration of the quench (ps)."""
        return (self.melt_temperature - self.temperature) / self.quench_rate_k_per_ps

    def get_protocol(self) -> MdProtocol:
        """Return the melt-hold-quench protocol (or the explicit ``protocol``)."""
        if self.protocol is not None:
            return MdProtocol.model_validate(self.protocol)
        return melt_quench_protocol(
            melt_temperature=self.melt_temperature,
            melt_ps=self.melt_ps,
            final_temperature=self.temperature,
            quench_rate_k_per_ps=self.quench_rate_k_per_ps,
            timestep_fs=self.timestep_fs,
            seed=self.seed,
            dump_every=self.dump_every,
            restart_every=self.restart_every,
            dump_species=self.dump_species,
        )
