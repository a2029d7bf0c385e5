"""Corrupt or unreadable images in a training folder: reported with their path, then skipped or fatal.

``data.bad_images = "skip"`` (the default): a file whose header or pixels cannot be read is logged once with its path
and the reason, and left out of the draw (a sample that hits it is drawn again from the same seeded generator, so
runs stay reproducible). ``"error"``: the run stops with a :class:`~qualedge.errors.TrainingError` naming the file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qualedge.errors import ConfigError, ImageReadError, TrainingError

POLICIES = ("skip", "error")
READ_ERRORS = (ImageReadError, OSError)


class BadImages:
    def __init__(self, policy: str, log: Callable[[str], None] = print) -> None:
        if policy not in POLICIES:
            raise ConfigError(f"data.bad_images must be one of {POLICIES}, got {policy!r}")
        self.policy, self.log = policy, log
        self.bad: dict[Path, str] = {}

    def report(self, path: Path, exc: BaseException) -> None:
        """Record ``path`` as unreadable; raise when the policy is ``error``."""
        reason = str(exc).splitlines()[0]
        if self.policy == "error":
            raise TrainingError(f"training image {path} cannot be read ({reason}). Fix or remove it, or set data.bad_images = 'skip'.") from exc
        if path not in self.bad:
            self.bad[path] = reason
            self.log(f"data: skipping unreadable training image {path} ({reason})")

    def header(self, path: Path) -> tuple[int, int] | None:
        """(width, height) from the header, or None (reported) when it cannot be read."""
        from qualedge.io import read_header

        try:
            _, w, h = read_header(path)
            return w, h
        except READ_ERRORS as exc:
            self.report(path, exc)
            return None


