"""Where qualedge looks for things on disk: the user cache and the optional shared data folder."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The user cache: ``QUALEDGE_CACHE`` if set, else ``$XDG_CACHE_HOME/qualedge`` or ``~/.cache/qualedge``."""
    env = os.environ.get("QUALEDGE_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qualedge"


def weights_dir() -> Path:
    """Folder for downloaded or converted weights (``<cache>/weights``)."""
    return cache_dir() / "weights"


def offline() -> bool:
    """True when ``QUALEDGE_OFFLINE`` (or ``HF_HUB_OFFLINE``) is set to a true value: never touch the network."""
    for name in ("QUALEDGE_OFFLINE", "HF_HUB_OFFLINE"):
        if os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on"):
            return True
    return False


def asset(*parts: str) -> Path:
    """A file shipped inside the qualedge package (``qualedge/assets/...``), found through importlib.resources so that
    it resolves the same in a checkout, an editable install and a wheel install."""
    from importlib.resources import files

    return Path(str(files("qualedge").joinpath("assets", *parts)))


def project_root() -> Path | None:
    """The source checkout this package runs from, if any (None for an installed package)."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "qualedge").is_dir() else None


def shared_data_dir() -> Path | None:
    """The optional data folder: ``QUALEDGE_DATA`` if set, else ``<checkout>/../shared/data`` when it exists.

    It holds benchmark images and small real weights for developers; users never need it.
    """
    env = os.environ.get("QUALEDGE_DATA")
    if env:
        p = Path(env).expanduser()
        return p if p.is_dir() else None
    root = project_root()
    if root is not None:
        p = root.parent / "shared" / "data"
        if p.is_dir():
            return p
    return None
