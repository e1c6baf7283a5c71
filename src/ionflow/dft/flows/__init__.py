"""Flow Makers of the DFT stage."""

from ionflow.dft.flows.training_set import TrainingSetFlowMaker

__all__ = ["TrainingSetFlowMaker"]
