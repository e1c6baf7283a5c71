"""ionflow: from a solid-electrolyte structure to an MTP and a Li-ion conductivity."""

__version__ = "0.1.0"
