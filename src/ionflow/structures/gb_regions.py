"""Names of the grain-boundary regions, nearest the GB plane first.

A site's region is set by its distance to the nearest GB plane along the boundary
normal, in slabs of equal width (Å): the GB cells of :mod:`ionflow.structures.grain_boundary`
label their sites with these names and :mod:`ionflow.analysis.regions` resolves diffusion
by them. Kept free of pymatgen so the analysis imports it cheaply.
"""

from __future__ import annotations

REGION_NAMES = ("GB", "Near_GB", "Far_GB", "Bulk")
