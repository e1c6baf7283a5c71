"""MD protocols: the ordered stages (ensemble, temperature ramp, length) of one run.

A protocol is a timeline of MD steps: stage ``k`` covers steps ``[start_k, end_k)``; a
continued run restarts anywhere on that timeline (from a LAMMPS restart file) and the
deck is generated for what remains. Units: time in fs, temperature in K, pressure in bar.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from ionflow.errors import IonflowInputError

# Melt-quench of the LLZO study (amorphous cells): 3000 K held 1 ns, 5 K/ps down to 500 K,
# 1 fs steps. The one source of these defaults (protocol, MD Maker, structures recipe).
MELT_TEMPERATURE_K = 3000.0
MELT_HOLD_PS = 1000.0
QUENCH_RATE_K_PER_PS = 5.0
QUENCH_FINAL_TEMPERATURE_K = 500.0
MELT_QUENCH_TIMESTEP_FS = 1.0


class MdStage(BaseModel):
    """One stage of an MD run: a thermostat/barostat setting held for ``steps`` steps."""

    name: str = Field(description="Label, e.g. 'heat 350 K' or 'production'.")
    ensemble: Literal["nve", "nvt", "npt"]
    steps: int = Field(ge=1, description="Number of MD steps.")
    temperature_start: float = Field(0.0, ge=0.0, description="Thermostat target at start (K).")
    temperature_stop: float = Field(0.0, ge=0.0, description="Thermostat target at end (K).")
    pressure: float = Field(1.0, description="Barostat target (bar), NPT only.")
    dump: bool = Field(False, description="Write trajectory frames during this stage.")


class MdProtocol(BaseModel):
    """A whole MD run: stages, time step, output intervals and random seed."""

    stages: list[MdStage]
    timestep_fs: float = Field(2.0, gt=0.0, le=5.0, description="MD time step (fs).")
    seed: int = Field(12345, ge=1, description="Seed of the initial velocities.")
    initial_temperature: float = Field(
        10.0, ge=0.0, description="Temperature of the seeded Maxwell-Boltzmann velocities (K)."
    )
    thermo_every: int = Field(100, ge=1, description="Steps between thermo lines.")
    dump_every: int = Field(100, ge=1, description="Steps between trajectory frames.")
    restart_every: int = Field(
        5000, ge=1, description="Steps between restart files (multiple of dump_every)."
    )
    dump_species: list[str] = Field(
        ["Li"], description="Species written to the trajectory ('*': all)."
    )
    tdamp_fs: float = Field(100.0, gt=0.0, description="Thermostat damping time (fs).")
    pdamp_fs: float = Field(1000.0, gt=0.0, description="Barostat damping time (fs).")
    barostat: Literal["iso", "aniso", "tri"] = "iso"

    @model_validator(mode="after")
    def _check(self) -> MdProtocol:
        if not self.stages:
            raise IonflowInputError("MD protocol has no stages; give at least one stage")
        if self.restart_every % self.dump_every:
            raise IonflowInputError(
                f"restart_every ({self.restart_every}) must be a multiple of dump_every "
                f"({self.dump_every}) so that a continued run neither repeats nor skips frames"
            )
        return self

    @property
    def total_steps(self) -> int:
        """Number of MD steps of the whole protocol."""
        return sum(stage.steps for stage in self.stages)

    def stage_bounds(self) -> list[tuple[int, int]]:
        """Return ``(start_step, end_step)`` of every stage on the run's timeline."""
        bounds, start = [], 0
        for stage in self.stages:
            bounds.append((start, start + stage.steps))
            start += stage.steps
        return bounds


def _steps(time_ps: float, timestep_fs: float, multiple: int) -> int:
    """Steps in ``time_ps`` rounded up to a multiple of ``multiple`` (at least one)."""
    n = math.ceil(time_ps * 1000.0 / timestep_fs / multiple) * multiple
    return max(n, multiple)


def heat_then_npt_protocol(
    temperature: float,
    production_ps: float = 10_000.0,
    heating_ps: float = 100.0,
    heating_step_k: float = 10.0,
    pressure_bar: float = 1.0,
    timestep_fs: float = 2.0,
    seed: int = 12345,
    dump_every: int = 100,
    thermo_every: int = 100,
    restart_every: int = 5000,
    dump_species: list[str] | None = None,
    production_ensemble: Literal["npt", "nvt"] = "npt",
) -> MdProtocol:
    """Argyrodite-paper protocol: NVT heating in steps of ``heating_step_k``, then NPT.

    ``production_ensemble="nvt"`` keeps the cell fixed in production instead (the LLZO
    paper's 6 ns NVT runs; also the safe choice for a potential not fitted to stress).

    The temperature rises from ``heating_step_k`` to ``temperature`` (K) in plateaus of
    ``heating_step_k`` K that together last ``heating_ps`` ps (NVT), then the production
    stage holds ``temperature`` at ``pressure_bar`` bar for ``production_ps`` ps (NPT) and
    is the only stage that writes trajectory frames. Stage lengths are rounded up to
    multiples of ``dump_every`` steps.

    Raises:
        IonflowInputError: for a non-positive temperature or time.
    """
    if temperature <= 0 or production_ps <= 0 or heating_ps < 0 or heating_step_k <= 0:
        raise IonflowInputError(
            "MD temperature (K), production and heating times (ps) must be positive"
        )
    plateaus = [
        min(heating_step_k * k, temperature)
        for k in range(1, math.ceil(temperature / heating_step_k) + 1)
    ]
    stages = []
    if heating_ps > 0:
        # the heating as a whole is a multiple of dump_every (production frames then fall
        # on multiples of dump_every); the last plateau takes the remainder
        heating_steps = _steps(heating_ps, timestep_fs, dump_every)
        per_plateau = max(heating_steps // len(plateaus), 1)
        lengths = [per_plateau] * (len(plateaus) - 1)
        lengths.append(max(heating_steps - sum(lengths), 1))
        stages = [
            MdStage(
                name=f"heat {t:g} K",
                ensemble="nvt",
                steps=n,
                temperature_start=t,
                temperature_stop=t,
            )
            for t, n in zip(plateaus, lengths, strict=True)
        ]
    stages.append(
        MdStage(
            name="production",
            ensemble=production_ensemble,
            steps=_steps(production_ps, timestep_fs, dump_every),
            temperature_start=temperature,
            temperature_stop=temperature,
            pressure=pressure_bar,
            dump=True,
        )
    )
    return MdProtocol(
        stages=stages,
        timestep_fs=timestep_fs,
        seed=seed,
        initial_temperature=plateaus[0] if heating_ps > 0 else temperature,
        thermo_every=thermo_every,
        dump_every=dump_every,
        restart_every=restart_every,
        dump_species=dump_species or ["Li"],
    )


def melt_quench_protocol(
    melt_temperature: float = MELT_TEMPERATURE_K,
    melt_ps: float = MELT_HOLD_PS,
    final_temperature: float = QUENCH_FINAL_TEMPERATURE_K,
    quench_rate_k_per_ps: float = QUENCH_RATE_K_PER_PS,
    timestep_fs: float = MELT_QUENCH_TIMESTEP_FS,
    seed: int = 12345,
    dump_every: int = 1000,
    restart_every: int = 10_000,
    dump_species: list[str] | None = None,
) -> MdProtocol:
    """Melt, hold and quench (LLZO paper: 3000 K for 1 ns, 5 K/ps down to 500 K), NVT.

    Args:
        melt_temperature: hold temperature (K).
        melt_ps: hold time at the melt temperature (ps).
        final_temperature: end of the linear quench (K).
        quench_rate_k_per_ps: cooling rate (K/ps).
        timestep_fs: MD time step (fs).
        seed: velocity seed.
        dump_every: steps between frames (all stages write frames).
        restart_every: steps between restart files.
        dump_species: species in the trajectory (default: Li).

    Raises:
        IonflowInputError: if the quench does not cool or a time is not positive.
    """
    if final_temperature >= melt_temperature or quench_rate_k_per_ps <= 0 or melt_ps <= 0:
        raise IonflowInputError(
            "melt-quench needs final_temperature < melt_temperature (K), a positive "
            "quench rate (K/ps) and a positive melt time (ps)"
        )
    quench_ps = (melt_temperature - final_temperature) / quench_rate_k_per_ps
    stages = [
        MdStage(
            name=f"melt {melt_temperature:g} K",
            ensemble="nvt",
            steps=_steps(melt_ps, timestep_fs, dump_every),
            temperature_start=melt_temperature,
            temperature_stop=melt_temperature,
            dump=True,
        ),
        MdStage(
            name=f"quench {quench_rate_k_per_ps:g} K/ps",
            ensemble="nvt",
            steps=_steps(quench_ps, timestep_fs, dump_every),
            temperature_start=melt_temperature,
            temperature_stop=final_temperature,
            dump=True,
        ),
    ]
    return MdProtocol(
        stages=stages,
        timestep_fs=timestep_fs,
        seed=seed,
        initial_temperature=melt_temperature,
        dump_every=dump_every,
        thermo_every=dump_every,
        restart_every=restart_every,
        dump_species=dump_species or ["Li"],
    )
