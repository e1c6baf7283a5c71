"""Real CHGNet: AIMD snapshots -> labelling -> .cfg read back by motep; relax; flow."""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import Flow, run_locally
from monty.json import MontyDecoder

from ionflow.dft.flows import TrainingSetFlowMaker
from ionflow.dft.jobs import AimdSnapshotMaker, LabelMaker, RelaxMaker
from ionflow.dft.sets.oracle import OracleSettings
from ionflow.errors import IonflowInputError
from ionflow.io.labelled_set import LabelledSet
from ionflow.io.mlip_cfg import read_labelled_cfg
from tests.fixtures.dft import make_li2s

CHGNET = OracleSettings(oracle="chgnet")


def _output(job, store):
    return MontyDecoder().process_decoded(store.get_output(job.uuid, load=True))


def test_chgnet_aimd_snapshots_label_into_cfg_motep_reads_identically(dft_store, tmp_path):
    aimd = AimdSnapshotMaker(
        oracle_settings=CHGNET, temperature=900, duration=0.02, n_snapshots=4,
        equilibration_fraction=0.3,
    ).make(make_li2s())  # fmt: skip
    label = LabelMaker(oracle_settings=CHGNET).make(aimd.output.snapshots)
    run_locally(Flow([aimd, label]), store=dft_store, ensure_success=True)
    md, labelled = _output(aimd, dft_store), _output(label, dft_store)
    assert md.n_steps == 10 and md.n_frames == 11
    assert len(md.snapshots) == 4 and min(md.snapshot_frames) >= 4
    assert md.snapshots[0].properties["ionflow"]["temperature_K"] == 900
    moved = np.abs(md.snapshots[-1].cart_coords - make_li2s().cart_coords).max()
    assert moved > 1e-3  # the atoms moved
    assert labelled.counts_by_temperature == {"900": 4} and labelled.oracle == "chgnet"
    # motep reads the file back with the numbers we wrote
    path = tmp_path / "labelled_set.cfg"
    text = labelled.labelled_set.cfg_text()
    path.write_text(text)
    images = read_labelled_cfg(path, labelled.species)
    assert len(images) == 4
    for atoms, snapshot in zip(images, md.snapshots, strict=True):
        assert atoms.positions == pytest.approx(snapshot.cart_coords, abs=1e-6)
    rewritten = LabelledSet(images, labelled.oracle, labelled.level_of_theory, labelled.species)
    assert rewritten.cfg_text() == text  # identical rewrite
    in_memory = labelled.labelled_set.images  # what the store gave the consumer
    assert in_memory[1].get_forces() == pytest.approx(images[1].get_forces())


def test_chgnet_relax_reaches_force_tolerance(dft_store, tmp_path):
    start = make_li2s(a=5.95)
    start.translate_sites([0], [0.1, 0.0, 0.0], frac_coords=False)
    job = RelaxMaker(oracle_settings=CHGNET, force_tolerance=0.05, max_steps=300).make(start)
    run_locally(job, store=dft_store, ensure_success=True)
    doc = _output(job, dft_store)
    assert doc.converged and doc.oracle == "chgnet"
    assert doc.structure.properties["ionflow"]["source"] == "relaxed"
    assert doc.structure.lattice.a != pytest.approx(5.95, abs=1e-3)
    from ionflow.dft.run import run_single_point

    label = run_single_point(doc.structure, "PBE", tmp_path / "check", CHGNET)
    assert np.linalg.norm(label.forces, axis=1).max() < 0.05 + 1e-3


def test_chgnet_oracle_refuses_dispersion_levels():
    with pytest.raises(IonflowInputError, match="chgnet"):
        TrainingSetFlowMaker(levels_of_theory=("PBE", "optB88-vdW"), oracle_settings=CHGNET).make(
            make_li2s()
        )


@pytest.mark.slow
def test_training_set_flow_chgnet(dft_store):
    maker = TrainingSetFlowMaker(
        levels_of_theory=("PBE",),
        oracle_settings=CHGNET,
        relax_maker=RelaxMaker(max_steps=100, force_tolerance=0.1),
        strain_directions=("a", "abc"),
        temperatures=(600.0, 1200.0),
        aimd_maker=AimdSnapshotMaker(duration=0.01, n_snapshots=2, equilibration_fraction=0.4),
        batch_size=7,
    )
    flow = maker.make(make_li2s())
    run_locally(flow, store=dft_store, ensure_success=True)
    label_job = next(j for j in flow.jobs if j.name == "label PBE")
    doc = _output(label_job, dft_store)
    # 1 relaxed + 4 strained structures x 2 temperatures x 2 snapshots
    assert doc.n_labelled == 20 and not doc.failures
    assert doc.counts_by_temperature == {"600.0": 10, "1200.0": 10}
    assert doc.counts_by_strain == {"none": 4, "a-0.050": 4, "a+0.050": 4,
                                    "abc-0.050": 4, "abc+0.050": 4}  # fmt: skip
    assert len(doc.labelled_set) == 20
    chunks = list(dft_store.query({"name": {"$regex": "^label PBE [0-9]"}}, load=False))
    assert len(chunks) == 3  # 20 structures in batches of 7


def test_chgnet_md_of_cells_of_different_sizes_in_one_process(tmp_path):
    """The shared CHGNet calculator's results of one cell never leak into the next."""
    from ionflow.dft.run import run_aimd

    small = make_li2s()
    large = small * (2, 1, 1)
    for n, cell in enumerate((small, large)):
        frames = run_aimd(cell, "PBE", tmp_path / f"md{n}", CHGNET, 600.0, n_steps=1)
        assert [len(s) for s in frames.structures] == [len(cell)] * 2
