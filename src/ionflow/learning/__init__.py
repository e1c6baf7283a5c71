"""Active learning: explore with MD -> select by extrapolation grade -> label -> refit.

A loop above the stages it composes: labelling (:mod:`ionflow.dft`), fitting and MaxVol
selection (:mod:`ionflow.mtp`) and MD (:mod:`ionflow.md`, for the LAMMPS explorer).
``flows/`` holds :class:`~ionflow.learning.flows.active_learning.ActiveLearningMaker`
(per iteration: exploration jobs, one per cell and run, then a selection job),
``schemas/`` its documents, ``explore``/``explore_lammps`` the exploration engines
(ASE MD or ionflow.md's LAMMPS), and ``run.py`` the one place ASE MD is started.
"""
