"""Speed and peak memory of `ionflow analyze diffusion` vs pymatgen-analysis-diffusion.

Usage:
    .venv/bin/python benchmarks/analysis_speed.py                 # 1,000 atoms x 5,000 frames
    .venv/bin/python benchmarks/analysis_speed.py --pmg-frames 1000  # pymatgen on fewer frames
    .venv/bin/python benchmarks/analysis_speed.py --big           # + 10,000 atoms x 10,000 frames

The trajectory is synthetic (Li random walk with D = 1e-5 cm^2/s among vibrating
framework atoms), written as a LAMMPS binary dump (the MD stage's production format,
``id type xu yu zu``) and as a text dump of the same frames. ionflow reads either file
with the CLI; pymatgen has no binary dump reader, so it reads the text dump with
``pymatgen.io.lammps.outputs.parse_lammps_dumps`` and runs
``DiffusionAnalyzer.from_structures`` - what a pymatgen user would do. Each measurement
runs in its own process; peak memory is that process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

D_A2_FS = 1e-4  # 1e-5 cm^2/s
FRAME_STEPS = 50
TIMESTEP_FS = 2.0
CELL_A = 25.0


def synthetic_frames(n_atoms: int, n_li: int, n_frames: int, seed: int = 0):
    """Yield (step, positions) of Li random walkers among vibrating framework atoms."""
    rng = np.random.default_rng(seed)
    dt = FRAME_STEPS * TIMESTEP_FS
    lattice = rng.uniform(0, CELL_A, size=(n_atoms, 3))
    li = lattice[:n_li].copy()
    for frame in range(n_frames):
        if frame:
            li += rng.normal(scale=np.sqrt(2 * D_A2_FS * dt), size=li.shape)
        positions = lattice + rng.normal(scale=0.1, size=lattice.shape)
        positions[:n_li] = li
        yield frame * FRAME_STEPS, positions


def write_dumps(n_atoms: int, n_li: int, n_frames: int, out: Path, text: bool) -> None:
    """Write the binary (and optionally text) LAMMPS dump of the synthetic trajectory."""
    ids = np.arange(1, n_atoms + 1, dtype=float)
    types = np.where(np.arange(n_atoms) < n_li, 1.0, 2.0)
    columns = b"id type xu yu zu"
    text_handle = open(out / "traj.dump", "w") if text else None  # noqa: SIM115
    with open(out / "traj.bin", "wb") as binary:
        for step, positions in synthetic_frames(n_atoms, n_li, n_frames):
            # LAMMPS 2025 dump custom binary header (format revision 2)
            binary.write(struct.pack("<q", -10) + b"DUMPCUSTOM" + struct.pack("<ii", 1, 2))
            binary.write(struct.pack("<qqi6i", step, n_atoms, 0, *([0] * 6)))
            binary.write(struct.pack("<6d", 0, CELL_A, 0, CELL_A, 0, CELL_A))
            binary.write(struct.pack("<i", 5) + struct.pack("<i", 0) + struct.pack("<b", 0))
            binary.write(struct.pack("<i", len(columns)) + columns + struct.pack("<i", 1))
            table = np.column_stack([ids, types, positions])
            binary.write(struct.pack("<i", table.size) + table.astype("<f8").tobytes())
            if text_handle is not None:
                text_handle.write(f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{n_atoms}\n")
                text_handle.write("ITEM: BOX BOUNDS pp pp pp\n" + f"0 {CELL_A}\n" * 3)
                text_handle.write("ITEM: ATOMS id type xu yu zu\n")
                np.savetxt(text_handle, table, fmt=["%d", "%d", "%.6f", "%.6f", "%.6f"])
    if text_handle is not None:
        text_handle.close()


def run_ionflow(path: Path) -> dict:
    """`ionflow analyze diffusion` in a child process: wall time, peak RSS, D."""
    out = path.with_suffix(".json")
    cmd = [sys.executable, "-m", "ionflow.cli.main", "analyze", "diffusion", str(path)]
    cmd += ["--temperature", "600", "--type-map", "1=Li,2=S", "--timestep-fs", str(TIMESTEP_FS)]
    return _measure([*cmd, "--json", str(out)], out)


PMG_SCRIPT = """
import json, sys, numpy as np
from pymatgen.core import Structure
from pymatgen.io.lammps.outputs import parse_lammps_dumps
from pymatgen.analysis.diffusion.analyzer import DiffusionAnalyzer
path, n_frames = sys.argv[1], int(sys.argv[2])
timestep, frame_steps = float(sys.argv[3]), int(sys.argv[4])
structures = []
for i, dump in enumerate(parse_lammps_dumps(path)):
    if i >= n_frames:
        break
    data = dump.data.sort_values("id")
    species = np.where(data["type"].to_numpy() == 1, "Li", "S")
    structures.append(Structure(dump.box.to_lattice(), species, data[["xu", "yu", "zu"]].to_numpy(),
                                coords_are_cartesian=True))
analyzer = DiffusionAnalyzer.from_structures(
    structures, "Li", 600, timestep, frame_steps, smoothed="max"
)
json.dump({"D_cm2_s": analyzer.diffusivity, "D_err_cm2_s": analyzer.diffusivity_std_dev},
          open(sys.argv[5], "w"))
"""


def run_pymatgen(path: Path, n_frames: int) -> dict:
    """pymatgen-analysis-diffusion from the text dump in a child process."""
    script = path.parent / "pmg.py"
    script.write_text(PMG_SCRIPT)
    out = path.parent / "pmg.json"
    cmd = [sys.executable, str(script), str(path), str(n_frames), str(TIMESTEP_FS)]
    return _measure([*cmd, str(FRAME_STEPS), str(out)], out)


def _measure(cmd: list[str], out: Path | None) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    wrapper = (
        "import resource, subprocess, sys, time, json;"
        "t = time.perf_counter(); r = subprocess.run(sys.argv[1:]);"
        "print(json.dumps({'rc': r.returncode, 'seconds': time.perf_counter() - t,"
        "'peak_MB': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", wrapper, *cmd], env=env, capture_output=True, text=True
    )
    stats = json.loads(result.stdout.strip().splitlines()[-1])
    if stats["rc"] != 0:
        raise RuntimeError(f"{cmd[:4]} failed: {result.stderr[-2000:]}")
    if out is not None:
        stats.update(json.loads(out.read_text()))
    return stats


def main() -> None:
    """Generate the trajectories, run both codes, print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atoms", type=int, default=1000)
    parser.add_argument("--li", type=int, default=200)
    parser.add_argument("--frames", type=int, default=5000)
    parser.add_argument("--pmg-frames", type=int, default=None, help="frames for pymatgen")
    parser.add_argument("--big", action="store_true", help="also 10,000 atoms x 10,000 frames")
    parser.add_argument("--skip-small", action="store_true")
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    with tempfile.TemporaryDirectory(prefix="ionflow-bench-") as tmp:
        tmp = Path(tmp)
        if not args.skip_small:
            start = time.perf_counter()
            write_dumps(args.atoms, args.li, args.frames, tmp, text=True)
            print(
                f"wrote {args.atoms} atoms x {args.frames} frames in "
                f"{time.perf_counter() - start:.0f} s"
            )
            binary = run_ionflow(tmp / "traj.bin")
            text = run_ionflow(tmp / "traj.dump")
            pmg_frames = args.pmg_frames or args.frames
            pmg = run_pymatgen(tmp / "traj.dump", pmg_frames)
            rows = [("ionflow binary", binary), ("ionflow text", text)]
            rows.append((f"pymatgen ({pmg_frames} frames)", pmg))
            if pmg_frames < args.frames:
                # pymatgen time and memory grow linearly with frames: extrapolate from two runs
                half = run_pymatgen(tmp / "traj.dump", pmg_frames // 2)
                rows.append((f"pymatgen ({pmg_frames // 2} frames)", half))
                factor = (args.frames - pmg_frames) / (pmg_frames - pmg_frames // 2)
                pmg = {
                    key: pmg[key] + factor * (pmg[key] - half[key])
                    for key in ("seconds", "peak_MB")
                }
                print(
                    f"pymatgen extrapolated to {args.frames} frames: {pmg['seconds']:.0f} s, "
                    f"{pmg['peak_MB']:.0f} MB"
                )
            startup = _measure([sys.executable, "-m", "ionflow.cli.main", "version"], None)
            print(
                f"`ionflow version` (CLI start-up, included above): "
                f"{startup['seconds']:.1f} s, {startup['peak_MB']:.0f} MB"
            )
            print(f"true D = {D_A2_FS * 0.1:.3e} cm^2/s")
            for name, r in rows:
                print(
                    f"{name:28s} {r['seconds']:8.1f} s {r['peak_MB']:8.0f} MB  "
                    f"D = {r['D_cm2_s']:.3e} +- {r['D_err_cm2_s']:.1e} cm^2/s"
                )
            print(
                f"vs pymatgen at {args.frames} frames: ionflow (text) "
                f"{pmg['seconds'] / text['seconds']:.1f}x faster, "
                f"{pmg['peak_MB'] / text['peak_MB']:.1f}x less memory; ionflow (binary) "
                f"{pmg['seconds'] / binary['seconds']:.1f}x faster, "
                f"{pmg['peak_MB'] / binary['peak_MB']:.1f}x less memory"
            )
            for f in tmp.iterdir():
                f.unlink()
        if args.big:
            start = time.perf_counter()
            write_dumps(10_000, 2_000, 10_000, tmp, text=False)
            print(
                "wrote 10,000 atoms x 10,000 frames binary "
                f"({(tmp / 'traj.bin').stat().st_size / 1e9:.1f} GB)"
                f" in {time.perf_counter() - start:.0f} s"
            )
            big = run_ionflow(tmp / "traj.bin")
            print(
                f"ionflow 10k x 10k binary: {big['seconds']:.0f} s, peak {big['peak_MB']:.0f} MB, "
                f"D = {big['D_cm2_s']:.3e} +- {big['D_err_cm2_s']:.1e} cm^2/s"
            )


if __name__ == "__main__":
    main()
