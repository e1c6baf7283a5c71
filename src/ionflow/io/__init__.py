"""File formats: pure readers and writers, no engines, no stage imports.

``mlip_cfg`` (MLIP ``.cfg`` text, checked line by line), ``labelled_set`` (the labelled
set in memory, stored as ``.cfg`` text), ``mlip_mtp`` (checks of MLIP ``.mtp``
potentials; the header they return is where ionflow reads the cutoff), ``text_file`` (a
user's text file, one-line errors), ``lammps_dump`` (LAMMPS text and binary ``dump
custom`` frames, joining run segments), ``lammps_data`` (LAMMPS
data files), ``lammps_restart`` (restart headers), ``mlip_ini`` (``mlip.ini`` of
``pair_style mlip``); trajectories of other codes, streamed into
``trajectory_frame.Frame``: ``vasp_xdatcar`` (XDATCAR), ``vasprun`` (vasprun.xml),
``cp2k_trajectory`` (``-pos-1.xyz`` + ``-1.cell``).
"""
