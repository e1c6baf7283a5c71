"""A firework's launch history, read from the ``FW.json`` FireWorks writes in its folder.

Before a firework's tasks run, FireWorks' Rocket writes the whole firework to
``FW.json`` in the new launch folder (``PRINT_FW_JSON``, on by default and in ionflow's
``FW_config.yaml``). That record holds the current launch (``launches``) and every earlier
launch of the same firework (``archived_launches``: moved there by each rerun), each with
its folder and final state. A job that checkpoints (MD) reads it to find the folder of its
interrupted previous launch, whichever way the firework was rerun (``ionflow resume``,
``lpad rerun_fws``, ``lpad detect_lostruns --rerun``), without a database connection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

FW_JSON = "FW.json"


@dataclass(frozen=True)
class Launch:
    """One launch of a firework.

    Attributes:
        launch_id: FireWorks launch id (increasing with time).
        launch_dir: folder the launch ran in.
        state: its state when the record was written (``RUNNING``, ``FIZZLED``,
            ``COMPLETED``; a killed launch found lost is ``FIZZLED``).
    """

    launch_id: int
    launch_dir: Path
    state: str


def launch_history(job_dir: str | Path) -> list[Launch] | None:
    """Every launch of the firework running in ``job_dir``, oldest first.

    Returns:
        The launches (the current one included), or None if ``job_dir`` has no
        readable ``FW.json`` (not run by FireWorks, or ``PRINT_FW_JSON`` off).
    """
    path = Path(job_dir) / FW_JSON
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    launches = {}
    for entry in [*(record.get("archived_launches") or []), *(record.get("launches") or [])]:
        if isinstance(entry, dict) and entry.get("launch_dir") and "launch_id" in entry:
            launches[entry["launch_id"]] = Launch(
                launch_id=int(entry["launch_id"]),
                launch_dir=Path(entry["launch_dir"]),
                state=str(entry.get("state") or ""),
            )
    return [launches[key] for key in sorted(launches)]
