"""Which engine labels structures, and with which numerical settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ionflow.errors import IonflowInputError

Oracle = Literal["vasp", "cp2k", "chgnet"]
ORACLES: tuple[str, ...] = ("vasp", "cp2k", "chgnet")
CP2K_QUALITIES: tuple[str, ...] = ("production", "cheap", "minimal")  # sets/cp2k.yaml


def check_cp2k_quality(quality: str) -> str:
    """Return ``quality`` if it names a settings block of ``sets/cp2k.yaml``.

    Raises:
        IonflowInputError: unknown quality.
    """
    if quality not in CP2K_QUALITIES:
        raise IonflowInputError(
            f"unknown CP2K quality {quality!r}; use {', '.join(CP2K_QUALITIES)}"
        )
    return quality


@dataclass
class OracleSettings:
    """Engine and numerical settings shared by relaxation, AIMD and labelling.

    Attributes:
        oracle: ``vasp``, ``cp2k`` or ``chgnet``; ``None`` takes ``oracle`` from
            :func:`ionflow.settings.get_settings`.
        encut: VASP plane-wave cutoff, eV.
        kpoint_mesh: k-mesh of relaxations and single points (Monkhorst-Pack for CP2K,
            Γ-centred for VASP).
        aimd_kpoint_mesh: k-mesh of AIMD runs (Γ point allowed, shared SPEC.md).
        cp2k_quality: ``production`` or ``cheap`` (``sets/cp2k.yaml``).
        vasp_potcar_spec: write ``POTCAR.spec`` instead of ``POTCAR`` (replayed tests).
        chgnet_model: force-field name passed to atomate2's ``ase_calculator``.
    """

    oracle: str | None = None
    encut: float = 500.0
    kpoint_mesh: tuple[int, int, int] = (2, 2, 2)
    aimd_kpoint_mesh: tuple[int, int, int] = (1, 1, 1)
    cp2k_quality: str = "production"
    vasp_potcar_spec: bool = False
    chgnet_model: str = "CHGNet"

    def __post_init__(self) -> None:
        """Reject an unknown oracle or CP2K quality when the settings are made."""
        if self.oracle is not None:
            self.resolved_oracle()
        check_cp2k_quality(self.cp2k_quality)

    def check_level(self, level: str) -> str:
        """Return ``level`` if known and, when the oracle is given, one it can compute.

        Raises:
            IonflowInputError: unknown level or a level the oracle does not have.
        """
        from ionflow.dft.sets import check_level, check_oracle_level

        if self.oracle is None:  # resolved from the user settings when the job runs
            return check_level(level)
        return check_oracle_level(self.resolved_oracle(), level)

    def resolved_oracle(self) -> str:
        """Return the oracle name, reading the user setting if none is given.

        Raises:
            IonflowInputError: unknown oracle.
        """
        if self.oracle is None:
            from ionflow.settings import get_settings

            return get_settings().oracle
        if self.oracle not in ORACLES:
            raise IonflowInputError(
                f"unknown oracle {self.oracle!r}; choose one of {', '.join(ORACLES)}"
            )
        return self.oracle
