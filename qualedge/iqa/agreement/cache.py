"""A persistent score cache keyed by (metric, file content hash, crop), so re-runs are instant and killed runs resume.

SQLite in the user cache (``<cache>/iqa_scores.sqlite``) or a path of the caller's choosing. File hashes are
memoised by (path, size, mtime) so unchanged files are not re-read.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

from qualedge import paths


class ScoreCache:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else paths.cache_dir() / "iqa_scores.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), check_same_thread=False)
        self._lock = threading.Lock()
        with self._db:
            self._db.execute("CREATE TABLE IF NOT EXISTS scores (metric TEXT, sha TEXT, crop TEXT, score REAL, PRIMARY KEY (metric, sha, crop))")
            self._db.execute("CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime INTEGER, sha TEXT)")
        self.hits = 0
        self.misses = 0

    def file_hash(self, path: Path) -> str:
        st = path.stat()
        key = str(path.resolve())
        with self._lock:
            row = self._db.execute("SELECT size, mtime, sha FROM files WHERE path = ?", (key,)).fetchone()
        if row and row[0] == st.st_size and row[1] == st.st_mtime_ns:
            return row[2]
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)", (key, st.st_size, st.st_mtime_ns, sha))
        return sha

    def get(self, metric: str, sha: str, crop: str) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT score FROM scores WHERE metric = ? AND sha = ? AND crop = ?", (metric, sha, crop)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return float(row[0])

    def put(self, metric: str, sha: str, crop: str, score: float) -> None:
        with self._lock, self._db:  # committed per score: a killed run loses at most the image in flight
            self._db.execute("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)", (metric, sha, crop, float(score)))

    def close(self) -> None:
        self._db.close()
