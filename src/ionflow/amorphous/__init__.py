"""Amorphous cells by melt-quench: the MD stage making structures.

Uses :mod:`ionflow.md` and :mod:`ionflow.structures`.

Above both stages: :class:`~ionflow.amorphous.flows.melt_quench.MeltQuenchFlowMaker`
runs the MD stage's :class:`~ionflow.md.jobs.melt_quench.MeltQuenchMdMaker` (whose fields
are the melt-quench recipe) between the structure builders before and after it
(starting cell at a density, expanded quenched cells).
"""
