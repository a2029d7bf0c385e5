"""Weight files: references with checksums, the cache folder, offline mode and downloads.

``resolve_weights(ref)`` is the only place that touches the network. Constructors never do.
"""

from __future__ import annotations

import hashlib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from qualedge import paths
from qualedge.atomic import atomic_save
from qualedge.errors import WeightsError, WeightsNotFoundError


@dataclass(frozen=True)
class WeightRef:
    """A downloadable weights file.

    Attributes:
        filename: the name in the cache folder.
        url: where it can be downloaded from (None: it cannot be, only placed by hand).
        sha256: expected checksum (None: not checked, which is reported by ``qualedge models``).
        how_to_obtain: a sentence for the error message when it is missing offline.
    """

    filename: str
    url: str | None = None
    sha256: str | None = None
    how_to_obtain: str = ""


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_sha256(path: Path, expected: str | None) -> None:
    if expected is None:
        return
    got = sha256_file(path)
    if got != expected:
        raise WeightsError(
            f"{path}: sha256 {got} does not match the expected {expected}. The file is corrupt or a different "
            "version; delete it and fetch it again."
        )


def resolve_weights(ref: WeightRef, *, cache: Path | None = None, offline: bool | None = None) -> Path:
    """Return the local path of ``ref``, downloading it into the cache when allowed.

    Raises:
        WeightsNotFoundError: missing and offline (or no URL): the message names the file, where it was looked for,
            and how to obtain it.
        WeightsError: the checksum does not match.
    """
    folder = cache if cache is not None else paths.weights_dir()
    target = folder / ref.filename
    if target.is_file():
        verify_sha256(target, ref.sha256)
        return target
    is_offline = paths.offline() if offline is None else offline
    if is_offline or ref.url is None:
        why = "offline mode is on (QUALEDGE_OFFLINE)" if is_offline and ref.url else "it has no download URL"
        src = f" Download it from {ref.url} and put it there." if ref.url else ""
        raise WeightsNotFoundError(
            f"weights file {ref.filename} not found: looked for {target}; {why}.{src} {ref.how_to_obtain}".strip()
        )
    folder.mkdir(parents=True, exist_ok=True)

    def download(tmp: Path) -> None:
        with urllib.request.urlopen(ref.url, timeout=60) as resp, open(tmp, "wb") as f:
            while block := resp.read(1 << 20):
                f.write(block)
        verify_sha256(tmp, ref.sha256)  # before the rename: a bad download never lands in the cache

    try:
        atomic_save(target, download, what="weights")
    except WeightsError:
        raise
    except OSError as exc:
        raise WeightsNotFoundError(
            f"weights file {ref.filename}: download from {ref.url} failed ({exc}). Download it by hand and put it at "
            f"{target}, or set QUALEDGE_OFFLINE=1 to fail fast."
        ) from exc
    return target
