"""SQLite cache of reports, keyed by problem + settings + device (DESIGN.md, invariant 5).

Hover reads from here and never computes anything, so lookups by (path, class name) must be cheap:
they hit an index and parse one JSON row.
"""

from __future__ import annotations

import os
import sqlite3
import threading

from .report import Report

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    key TEXT PRIMARY KEY,
    problem_name TEXT NOT NULL,
    path TEXT,
    created TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_by_class ON reports (problem_name, path, created);
"""


class Store:
    def __init__(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, "reports.sqlite3")
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        with self._lock:
            self._db.executescript(_SCHEMA)
            self._db.commit()

    def put(self, report: Report) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO reports (key, problem_name, path, created, json) VALUES (?, ?, ?, ?, ?)",
                (report.key, report.problem_name, _norm(report.path), report.created, report.to_json()),
            )
            self._db.commit()

    def get(self, key: str) -> Report | None:
        with self._lock:
            row = self._db.execute("SELECT json FROM reports WHERE key = ?", (key,)).fetchone()
        return Report.from_json(row[0]) if row else None

    def latest(self, problem_name: str, path: str | None = None) -> Report | None:
        """The newest report for a class, preferring one made from the same file."""
        with self._lock:
            row = None
            if path:
                row = self._db.execute(
                    "SELECT json FROM reports WHERE problem_name = ? AND path = ? ORDER BY created DESC LIMIT 1",
                    (problem_name, _norm(path)),
                ).fetchone()
            if row is None:
                row = self._db.execute(
                    "SELECT json FROM reports WHERE problem_name = ? ORDER BY created DESC LIMIT 1",
                    (problem_name,),
                ).fetchone()
        return Report.from_json(row[0]) if row else None

    def has(self, problem_name: str, path: str | None = None) -> bool:
        """Whether any report exists for the class (cheap: no JSON is parsed)."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM reports WHERE problem_name = ? AND (path = ? OR ? IS NULL) LIMIT 1",
                (problem_name, _norm(path), _norm(path)),
            ).fetchone()
        return row is not None

    def all(self) -> list[Report]:
        with self._lock:
            rows = self._db.execute("SELECT json FROM reports ORDER BY created").fetchall()
        return [Report.from_json(r[0]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _norm(path: str | None) -> str | None:
    return os.path.abspath(path) if path else None
