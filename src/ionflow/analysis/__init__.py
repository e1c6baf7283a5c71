"""Conductivity analysis: trajectories -> MSD -> D +- err -> Arrhenius -> sigma.

Layers (each usable alone): ``readers`` (streamed frames) -> ``displacements``
(unwrapping, drift removal) -> ``msd`` (FFT all-origins MSD) -> ``diffusion`` (D with
standard errors) -> ``arrhenius`` -> ``conductivity``; plus ``regions`` (GB slabs),
``sites`` (jumps, residence times) and ``plotting``. Makers are in ``jobs``, output
documents in ``schemas``.
"""
