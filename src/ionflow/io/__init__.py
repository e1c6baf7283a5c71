"""File formats: pure readers and writers, no engines, no stage imports.

``mlip_cfg`` (MLIP ``.cfg`` labelled sets), ``lammps_dump`` (LAMMPS text and binary
``dump custom`` frames, joining run segments), ``lammps_data`` (LAMMPS data files),
``lammps_restart`` (restart headers), ``mlip_ini`` (``mlip.ini`` of ``pair_style mlip``).
"""
