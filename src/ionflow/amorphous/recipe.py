"""The melt-quench recipe of amorphous cells (melt, hold, quench at a set rate)."""

from __future__ import annotations

from dataclasses import dataclass

from ionflow.md.jobs.melt_quench import MeltQuenchMdMaker
from ionflow.md.schemas.protocol import (
    MELT_HOLD_PS,
    MELT_QUENCH_TIMESTEP_FS,
    MELT_TEMPERATURE_K,
    QUENCH_FINAL_TEMPERATURE_K,
    QUENCH_RATE_K_PER_PS,
)


@dataclass
class MeltQuenchRecipe:
    """Melt-quench protocol of the LLZO study (melt, hold, quench at a set rate).

    Defaults come from :mod:`ionflow.md.schemas.protocol` (3000 K for 1 ns, 5 K/ps down
    to 500 K, 1 fs), the same as :class:`ionflow.md.jobs.melt_quench.MeltQuenchMdMaker`.

    Attributes:
        melt_temperature: melt and hold temperature (K).
        melt_ps: hold time at the melt temperature (ps).
        quench_rate_k_per_ps: cooling rate (K/ps).
        final_temperature: temperature the quench ends at (K).
        timestep_fs: MD time step (fs).
    """

    melt_temperature: float = MELT_TEMPERATURE_K
    melt_ps: float = MELT_HOLD_PS
    quench_rate_k_per_ps: float = QUENCH_RATE_K_PER_PS
    final_temperature: float = QUENCH_FINAL_TEMPERATURE_K
    timestep_fs: float = MELT_QUENCH_TIMESTEP_FS

    @property
    def quench_ps(self) -> float:
        """Duration of the quench (ps)."""
        return (self.melt_temperature - self.final_temperature) / self.quench_rate_k_per_ps

    def md_maker(self, **kwargs: object) -> MeltQuenchMdMaker:
        """The MD-stage Maker that runs this recipe (``make(structure, mtp)``)."""
        return MeltQuenchMdMaker(
            melt_temperature=self.melt_temperature,
            melt_ps=self.melt_ps,
            quench_rate_k_per_ps=self.quench_rate_k_per_ps,
            temperature=self.final_temperature,
            timestep_fs=self.timestep_fs,
            **kwargs,
        )
