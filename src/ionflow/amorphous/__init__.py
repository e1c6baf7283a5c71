"""Amorphous cells by melt-quench: the MD stage making structures.

Uses :mod:`ionflow.md` and :mod:`ionflow.structures`.

Above both stages: the recipe (:mod:`ionflow.amorphous.recipe`) configures the MD stage's
:class:`~ionflow.md.jobs.melt_quench.MeltQuenchMdMaker`, and
:class:`~ionflow.amorphous.flows.melt_quench.MeltQuenchFlowMaker` joins the structure
builders before and after it (starting cell at a density, expanded quenched cells).
"""
