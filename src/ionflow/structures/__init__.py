"""Structures stage: parent structures, ordered configurations, strain, supercells, GB, amorphous.

Builders are small modules named after what they make (``parents``, ``strain``,
``supercell``, ``ordering``, ``argyrodite``, ``sqs``, ``garnet``, ``grain_boundary``,
``amorphous``); ``jobs/`` wraps them as jobflow Makers whose outputs are the pydantic
documents of ``schemas/``.
"""
