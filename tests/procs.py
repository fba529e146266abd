"""Processes seen through /proc, for tests that check nothing is left running: the one place that
walks /proc (the LSP tests, the hostile suite and the pool tests all use it)."""

from __future__ import annotations

import os


def _stats() -> dict[int, list[str]]:
    """pid → the fields of /proc/<pid>/stat after the command name (state, ppid, pgrp, session, …)."""
    out: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                out[int(entry)] = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
    return out


def alive(pid: int) -> bool:
    """Running (a zombie is dead already: it only waits for its parent to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def descendants(pid: int) -> list[int]:
    """Live (non-zombie) processes below `pid`."""
    children: dict[int, list[int]] = {}
    for child, fields in _stats().items():
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(child)
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def session_members(sids: set[int]) -> list[int]:
    """Live processes in the given sessions (workers are started in sessions of their own)."""
    return [pid for pid, fields in _stats().items() if fields[0] != "Z" and int(fields[3]) in sids]
