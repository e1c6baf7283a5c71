"""MTP fitting, hyper-parameter scan and active learning (engines: mlp, motep)."""
