"""Helpers for the experiment scripts: run one ``qualedge`` verb as a step, and read a run folder's progress."""

from __future__ import annotations

import json
import time
from pathlib import Path

from qualedge.cli import main as cli


def run(args: list[str]) -> None:
    """Run ``qualedge ARGS`` in this process, printing the command and its time; a failed step stops the script."""
    print("$ qualedge " + " ".join(args), flush=True)
    t = time.perf_counter()
    rc = cli(args)
    if rc != 0:
        raise SystemExit(f"step failed ({rc}): qualedge {' '.join(args)}")
    print(f"  done in {time.perf_counter() - t:.0f} s", flush=True)


def finished_step(out: Path) -> int:
    """The step of the run folder's latest checkpoint (0 when it has none yet)."""
    p = out / "latest.json"
    return json.loads(p.read_text())["step"] if p.is_file() else 0


def latest(out: Path) -> Path:
    """The run folder's latest checkpoint folder."""
    return out / json.loads((out / "latest.json").read_text())["path"]
