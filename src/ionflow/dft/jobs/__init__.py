"""Job Makers of the DFT stage: relaxation, AIMD snapshots, labelling."""

from ionflow.dft.jobs.aimd import AimdSnapshotMaker
from ionflow.dft.jobs.label import LabelMaker
from ionflow.dft.jobs.relax import RelaxMaker

__all__ = ["AimdSnapshotMaker", "LabelMaker", "RelaxMaker"]
