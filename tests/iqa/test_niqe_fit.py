"""qualedge fit-niqe: a pristine model fitted on real photos scores clean photos better than degraded ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from qualedge.cli import main
from qualedge.data.degradations import degrade
from qualedge.errors import ConfigError
from qualedge.io import read_image
from qualedge.iqa.metrics import create_metric


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, photo_path: Path) -> Path:
    d = tmp_path_factory.mktemp("pristine")
    for name in ("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "motorcycle_right.png"):
        shutil.copy(photo_path.parent / name, d / name)
    return d


def test_fit_niqe_command_and_use(pristine: Path, tmp_path: Path, photo_path: Path) -> None:
    out = tmp_path / "niqe.npz"
    assert main(["fit-niqe", str(pristine), "-o", str(out)]) == 0
    d = np.load(out)
    assert d["mu_prisparam"].shape == (36,) and d["cov_prisparam"].shape == (36, 36) and int(d["n_blocks"]) > 20
    m = create_metric("niqe", model_path=str(out))
    img = read_image(photo_path).rgb
    clean = torch.from_numpy(img).permute(2, 0, 1)[None]
    noisy = torch.from_numpy(degrade(img, "noise", 0.6, 0)).permute(2, 0, 1)[None]
    assert float(m(clean)[0]) < float(m(noisy)[0])


def test_fit_niqe_errors(tmp_path: Path) -> None:
    from qualedge.iqa.niqe_fit import fit_niqe_folder

    with pytest.raises(ConfigError, match="holds no images"):
        fit_niqe_folder(tmp_path, tmp_path / "x.npz")
