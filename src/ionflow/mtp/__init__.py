"""MTP fitting, hyper-parameter scan and MaxVol selection (engines: mlp, motep).

The active-learning loop that uses them with labelling and MD is :mod:`ionflow.learning`.
"""
