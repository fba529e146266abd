"""Two conversions requested at once: `concurrency: "queue"` runs them one after the other,
`"parallel"` runs them together on the shared pool (docs/LSP.md, "Conversions, pool, lifecycle").

VS Code-like profile only: the queueing is the server's, the same for every client, and each
parametrisation costs a worker pool start plus two conversions.
"""

from __future__ import annotations

import asyncio
import itertools
import pathlib
import time
from dataclasses import dataclass

import pytest
from lspkit import ROOT, code_actions, copy_fixture, debug_info, line_of, open_doc, session
from lsprotocol import types as lsp

EXAMPLE = ROOT / "examples" / "several_modules.py"  # SiluMul and LayerScaleResidual: both templated
CLASSES = ("SiluMul", "LayerScaleResidual")
QUEUED = "queued behind another conversion"


def _template_ready() -> bool:
    try:
        from tritonize.generate.template import TemplateGenerator  # noqa: F401
    except ImportError:
        return False
    return True


class _TimedList(list):
    """A progress token's values, each stamped on arrival with a global sequence number (the order
    the client read them in) and a monotonic time (for the failure message)."""

    def __init__(self, counter: itertools.count) -> None:
        super().__init__()
        self._counter = counter
        self.stamps: list[tuple[int, float]] = []

    def append(self, value) -> None:
        super().append(value)
        self.stamps.append((next(self._counter), time.monotonic()))


class _TimedReports(dict):
    """Stands in for pytest-lsp's `client.progress_reports`: its handlers create each token's list
    with `setdefault` and `append` to it, so every `$/progress` value gets stamped."""

    def __init__(self) -> None:
        super().__init__()
        self._counter = itertools.count()

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = _TimedList(self._counter)
        return self[key]


@dataclass
class Timeline:
    """One conversion as the client saw it, as arrival numbers: its work reports (everything between
    begin and end but the queue notice), the first of them from the generate stage, and its end."""

    name: str
    queued: bool
    work: list[int]
    generate: int
    end: int
    messages: list[str]


def _timelines(reports: _TimedReports) -> dict[str, Timeline]:
    out = {}
    for values in reports.values():
        begin, end = values[0], values[-1]
        assert isinstance(begin, lsp.WorkDoneProgressBegin) and isinstance(end, lsp.WorkDoneProgressEnd), (
            values
        )
        name = begin.title.removeprefix("Tritonize ")
        middle = list(zip(values[1:-1], values.stamps[1:-1], strict=True))
        out[name] = Timeline(
            name=name,
            queued=any(QUEUED in (v.message or "") for v, _ in middle),
            work=[seq for v, (seq, _) in middle if QUEUED not in (v.message or "")],
            generate=next(seq for v, (seq, _) in middle if (v.message or "").startswith("generate")),
            end=values.stamps[-1][0],
            messages=[f"{t:.3f} {v.message}" for v, (_, t) in zip(values, values.stamps, strict=True)],
        )
    return out


@pytest.mark.skipif(not _template_ready(), reason="template generator not available yet")
@pytest.mark.parametrize("concurrency", ["queue", "parallel"])
async def test_two_conversions_follow_the_concurrency_setting(concurrency: str, tmp_path: pathlib.Path):
    settings = {
        "tritonize": {
            "generators": ["template"],
            "n": 1,
            "seeds": 1,
            "useCache": False,
            "device": "cpu",
            "concurrency": concurrency,
        }
    }
    path = copy_fixture(tmp_path, "several_modules.py", EXAMPLE)
    async with session("vscode", tmp_path, init_options=settings, configuration=settings) as client:
        client.progress_reports = _TimedReports()
        uri = open_doc(client, path)
        actions = []
        for name in CLASSES:
            line = line_of(path, f"class {name}")
            pos = lsp.Position(line, 8)
            (action,) = [
                a
                for a in await code_actions(client, uri, lsp.Range(pos, pos))
                if a.title.startswith("Convert")
            ]
            actions.append(action)
        assert (await debug_info(client))["settings"]["concurrency"] == concurrency

        # Both resolves go out back to back, as when the user picks the second action while the
        # first one runs.
        resolved = await asyncio.wait_for(
            asyncio.gather(
                *(client.protocol.send_request_async(lsp.CODE_ACTION_RESOLVE, a) for a in actions)
            ),
            60,
        )

        # both produce their edit: each one's marked block
        for name, action in zip(CLASSES, resolved, strict=True):
            assert action.edit is not None, (name, client.messages)
            (doc_edit,) = action.edit.document_changes
            assert any(f"# >>> tritonize: {name}Triton" in e.new_text for e in doc_edit.edits), name

        lines = _timelines(client.progress_reports)
        assert sorted(lines) == sorted(CLASSES)
        detail = "\n".join(f"{t.name}:\n  " + "\n  ".join(t.messages) for t in lines.values())
        for t in lines.values():  # each did the whole job: generated and verified
            assert any("generate" in m for m in t.messages) and any("verify" in m for m in t.messages), detail
            assert "passed" in t.messages[-1], detail

        if concurrency == "queue":
            # One waited, and it said so; its work (load onwards) comes after the other's last
            # report. (Not after the other's end notification: the queue slot is freed when the
            # pipeline returns, a moment before the server sends that end.)
            (second,) = [t for t in lines.values() if t.queued]
            (first,) = [t for t in lines.values() if not t.queued]
            assert second.work[0] > first.work[-1], detail
            assert second.end > first.end, detail
        else:
            # Nobody waited, and both were at work at the same time: each one had started
            # generating before the other's last report (verify) came in.
            assert not any(t.queued for t in lines.values()), detail
            a, b = lines.values()
            assert max(a.generate, b.generate) < min(a.work[-1], b.work[-1]), detail
