"""Conductivity from MD: MD on a temperature grid, analysed into D(T), Arrhenius and sigma.

The flow composing the MD stage (:mod:`ionflow.md`) and the analysis stage
(:mod:`ionflow.analysis`) sits here, above both, so that neither stage imports the other:
:class:`~ionflow.conductivity.flows.core.ConductivityMdFlowMaker`.
"""
