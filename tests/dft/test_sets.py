"""Input sets of the three levels of theory: VASP INCARs and CP2K input trees."""

from __future__ import annotations

import pytest

from ionflow.dft.sets import check_oracle_level
from ionflow.dft.sets.cp2k import cell_opt_motion, cp2k_input_set, md_motion
from ionflow.dft.sets.oracle import OracleSettings
from ionflow.dft.sets.vasp import (
    vasp_md_generator,
    vasp_relax_generator,
    vasp_static_generator,
    write_vasp_inputs,
)
from ionflow.errors import IonflowInputError
from tests.fixtures.dft import DFT_DATA, check_vasp_inputs, make_li2s

VASP_CASES = {
    "li2s_static_pbe": lambda: vasp_static_generator("PBE"),
    "li2s_static_pbe_d3bj": lambda: vasp_static_generator("PBE-D3(BJ)"),
    "li2s_static_optb88_vdw": lambda: vasp_static_generator("optB88-vdW"),
    "li2s_relax_pbe": lambda: vasp_relax_generator("PBE"),
    "li2s_md_pbe_600K": lambda: vasp_md_generator("PBE", temperature=600, n_steps=5),
}


@pytest.mark.parametrize("case", sorted(VASP_CASES))
def test_vasp_inputs_match_reference_incar_key_by_key(case, tmp_path):
    write_vasp_inputs(make_li2s(primitive=True), VASP_CASES[case](), tmp_path, potcar_spec=True)
    check_vasp_inputs(tmp_path, DFT_DATA / "vasp" / case / "inputs")
    assert (tmp_path / "POTCAR.spec").read_text().split() == ["Li_sv", "S"]


def _cp2k_text(level, **kwargs):
    return cp2k_input_set(make_li2s(), level, quality="cheap", **kwargs).cp2k_input.get_str()


def test_cp2k_levels_write_their_functional_and_dispersion():
    pbe, d3, optb88 = (_cp2k_text(level) for level in ("PBE", "PBE-D3(BJ)", "optB88-vdW"))
    assert "&PBE" in pbe and "VDW_POTENTIAL" not in pbe
    assert "TYPE DFTD3(BJ)" in d3 and "PARAMETER_FILE_NAME dftd3.dat" in d3 and "&PBE" in d3
    assert "&PBE" not in optb88
    for needle in ("&GGA_X_OPTB88_VDW", "&LDA_C_PW", "TYPE DRSLL", "vdW_kernel_table.dat"):
        assert needle in optb88
    # the vdW kernel grid uses the full plane-wave cutoff (a coarse one gives fake forces)
    non_local = optb88.split("&NON_LOCAL")[1]
    mgrid = optb88.split("&MGRID")[1]
    assert float(non_local.split("CUTOFF")[1].split()[0]) == float(
        mgrid.split("CUTOFF")[1].split()[0]
    )
    for text in (pbe, d3, optb88):
        assert "UKS False" in text and "STRESS_TENSOR ANALYTICAL" in text
        assert "BASIS_SET DZVP-MOLOPT-SR-GTH" in text and "AUX_FIT" not in text


def test_cp2k_explicit_monkhorst_pack_and_motion_sections():
    text = _cp2k_text("PBE", kpoint_mesh=(2, 2, 2))
    assert "SCHEME MONKHORST-PACK 2 2 2" in text and "FULL_GRID True" in text
    md = _cp2k_text("PBE", run_type="MD", motion=md_motion(600, 5, 2.0))
    assert "RUN_TYPE MD" in md and "ENSEMBLE NVT" in md
    assert "&THERMOSTAT" in md and "TYPE NOSE" in md and "TEMPERATURE 600.0" in md
    relax = _cp2k_text("PBE", run_type="CELL_OPT", motion=cell_opt_motion(0.04))
    max_force = float(relax.split("MAX_FORCE")[1].split()[0])
    assert max_force == pytest.approx(0.04 / 51.422, rel=1e-3)  # Ha/bohr


def test_cp2k_la_gets_named_basis_and_potential():
    structure = make_li2s()
    structure.replace(8, "La")
    text = cp2k_input_set(structure, "PBE", quality="cheap").cp2k_input.get_str()
    la_kind = text.split("ELEMENT La")[1].split("&END KIND")[0]
    assert "DZVP-MOLOPT-SR-GTH" in la_kind and "GTH-PBE-q11" in la_kind


def test_unknown_level_and_oracle_are_input_errors():
    with pytest.raises(IonflowInputError, match="unknown level"):
        check_oracle_level("cp2k", "HSE06")
    with pytest.raises(IonflowInputError, match="chgnet"):
        check_oracle_level("chgnet", "optB88-vdW")
    with pytest.raises(IonflowInputError, match="unknown oracle"):
        OracleSettings(oracle="qe").resolved_oracle()
