"""Physical constants shared by several packages (units in the names)."""

from __future__ import annotations

K_B_EV_PER_K = 8.617333262e-5  # Boltzmann constant (CODATA 2018), eV/K
