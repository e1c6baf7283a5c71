"""DFT stage: relaxation, AIMD snapshots and single-point labelling (SPEC stages 2, 4, 5).

One oracle (``vasp``, ``cp2k`` or ``chgnet``) does every calculation of a flow; the
Makers never depend on which. Units everywhere: eV, Å, eV/Å, GPa (positive under
tension), K, fs, ps.
"""
