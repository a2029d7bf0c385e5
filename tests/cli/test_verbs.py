"""Every CLI verb parses its --help without importing heavy code, and the verbs no other test runs work end to end
(the other verbs are run by the tests of the stage they wrap)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qualedge.cli import VERBS, main


@pytest.mark.parametrize("verb", [v for v, _, _ in VERBS])
def test_every_verb_has_help(verb: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main([verb, "--help"])
    assert exc.value.code == 0 and verb in capsys.readouterr().out


def test_build_capi_verb(tmp_path: Path, capsys) -> None:
    if shutil.which("cc") is None and shutil.which("c++") is None:
        pytest.skip("no C/C++ compiler on this machine")
    assert main(["build-capi", "-o", str(tmp_path / "capi")]) == 0
    assert (tmp_path / "capi" / "libqualedge.so").is_file() and (tmp_path / "capi" / "qualedge.h").is_file()
    assert "built" in capsys.readouterr().out


def test_export_iqa_verb(tmp_path: Path, capsys) -> None:
    out = tmp_path / "qhead.onnx"
    assert main(["export-iqa", "qhead", "-o", str(out), "--size", "64"]) == 0
    assert out.is_file() and "parity worst" in capsys.readouterr().out
    report = json.loads(Path(str(out) + ".json").read_text())  # <path>.json next to the graph
    assert report["metric"] == "qhead"
