from jobflow import Flow, JobStore, run_locally
from maggma.stores import MemoryStore

from ionflow.structures.jobs.core import ArgyroditeConfigurationsMaker, StrainMaker


def test_makers_chain_and_route_structures_to_data_store(tmp_path):
    configurations = ArgyroditeConfigurationsMaker().make("Li6PS5Br")
    strained = StrainMaker(magnitudes=(0.05,), directions=("a",)).make(
        configurations.output.structures[0]
    )
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    responses = run_locally(
        Flow([configurations, strained]), store=store, ensure_success=True, root_dir=tmp_path
    )
    document = responses[configurations.uuid][1].output
    assert [r.halide_4c_fraction for r in document.records] == [0, 0.25, 0.5, 0.5, 0.75, 1]
    strained_doc = responses[strained.uuid][1].output
    assert strained_doc.records[0].provenance == {
        "strain": 0.05, "direction": "a", "transformation": "strain", "label": "strain-a+0.0500"
    }  # fmt: skip
    # structures live in the data store, task documents hold a reference only
    task = store.docs_store.query_one({"uuid": configurations.uuid})
    assert "blob_uuid" in task["output"]["structures"]
    assert store.additional_stores["data"].count() >= 2
