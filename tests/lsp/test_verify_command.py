"""`tritonize.verifyCandidate`: a hand-written kernel judged against a module, on the server's warm pool.

Real workers, the Triton interpreter on CPU; `seeds: 1` keeps each verification to about a second
once the worker is warm."""

from __future__ import annotations

import asyncio
import pathlib
import time

import pytest
from lspkit import ROOT, children_of, debug_info, open_doc, session
from lsprotocol import types as lsp

CASES = ROOT / "tests" / "verify_cases"
QUICK = {"tritonize": {"seeds": 1, "device": "cpu", "timeoutS": 60}}
CMD = "tritonize.verifyCandidate"


async def _verify(client, args: dict, msg_id: str | None = None):
    params = lsp.ExecuteCommandParams(command=CMD, arguments=[args])
    return await client.protocol.send_request_async(lsp.WORKSPACE_EXECUTE_COMMAND, params, msg_id=msg_id)


async def test_verify_candidate_by_path_and_by_code(profile: str, tmp_path: pathlib.Path):
    problem = tmp_path / "relu_problem.py"
    problem.write_text((CASES / "relu_problem.py").read_text())
    async with session(profile, tmp_path, init_options=QUICK) as client:
        # the problem by path (not open), the candidate by path: passes, with what it was checked under
        ok = await _verify(client, {"path": str(problem), "candidatePath": str(CASES / "relu_ok.py")})
        assert ok["passed"] is True and ok["kind"] is None, ok
        assert ok["origin"] == "user" and ok["candidate_id"] == "relu_ok.py"
        assert ok["kernels_launched"] >= 1 and ok["seeds"] == 1
        assert ok["device"].startswith("cpu") and ok["timed"] is False and ok["dtype"] == "float32"
        assert ok["tolerance"]["atol"] == 1e-4 and ok["text"].startswith("PASS") and "relu_ok.py vs relu_problem.py::Model" in ok["text"]
        steps = next(iter(client.progress_reports.values()))
        assert steps[0].title == "Verify relu_ok.py against Model" and steps[0].cancellable
        assert isinstance(steps[-1], lsp.WorkDoneProgressEnd) and steps[-1].message.startswith("PASS")
        assert any(m.type == lsp.MessageType.Info and "PASS relu_ok.py" in m.message for m in client.messages)

        # the problem as an open document with unsaved edits (the editor's text is what counts),
        # the candidate as code: the wrong kernel is a mismatch; `settings` overrides per request
        uri = open_doc(client, problem)
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(
                text=problem.read_text().replace("torch.relu(x)", "torch.relu(x) * 1.0"))]))
        wrong = await _verify(client, {"uri": uri, "className": "Model", "settings": {"seeds": 2},
                                       "candidate": (CASES / "relu_wrong.py").read_text()})
        assert wrong["passed"] is False and wrong["kind"] == "mismatch", wrong
        assert wrong["candidate_id"] == "candidate" and "seed" in wrong["message"]
        assert any(m.type == lsp.MessageType.Warning and "FAIL (mismatch)" in m.message for m in client.messages)

        # user errors are answers, not exceptions: no such class, unreadable candidate, bad setting
        missing = await _verify(client, {"uri": uri, "className": "Nope", "candidate": "x = 1"})
        assert missing["error"]["kind"] == "not_found"
        unreadable = await _verify(client, {"uri": uri, "candidatePath": str(tmp_path / "absent.py")})
        assert unreadable["error"]["kind"] == "read_error" and "absent.py" in unreadable["error"]["message"]
        bad = await _verify(client, {"uri": uri, "candidate": "x = 1", "settings": {"seeds": "many"}})
        assert bad["error"]["kind"] == "settings" and "seeds" in bad["error"]["message"]
        # a malformed call is the calling extension's bug: an error response
        with pytest.raises(Exception, match="candidate"):
            await _verify(client, {"uri": uri})
        assert (await debug_info(client))["heavy_modules"] == []


async def test_cancel_a_verification(tmp_path: pathlib.Path):
    """Cancel from the progress bar while the slow kernel runs: answered at once, worker killed."""
    problem = tmp_path / "relu_problem.py"
    problem.write_text((CASES / "relu_problem.py").read_text())
    async with session("vscode", tmp_path, init_options=QUICK) as client:
        server_pid = client._server.pid
        # warm the pool first so the cancel lands on a running candidate, not on worker start-up
        assert (await _verify(client, {"path": str(problem), "candidatePath": str(CASES / "relu_ok.py")}))["passed"]
        client.progress_reports.clear()
        workers = set(children_of(server_pid))
        task = asyncio.ensure_future(_verify(client, {"path": str(problem),
                                                      "candidatePath": str(CASES / "loop_forever.py")}))
        token = None
        for _ in range(200):
            reports = next(iter(client.progress_reports.items()), None)
            if reports and any("verifying" in (getattr(s, "message", "") or "") for s in reports[1]):
                token = reports[0]
                break
            await asyncio.sleep(0.05)
        assert token is not None, client.progress_reports
        await asyncio.sleep(0.3)  # the candidate is running in the worker now
        t0 = time.monotonic()
        client.window_work_done_progress_cancel(lsp.WorkDoneProgressCancelParams(token=token))
        assert await asyncio.wait_for(task, 10) == {"cancelled": True}
        assert time.monotonic() - t0 < 3
        # the busy worker was killed and replaced; the server answers and verifies again
        for _ in range(100):
            if (await debug_info(client))["running"] == 0 and not workers <= set(children_of(server_pid)):
                break
            await asyncio.sleep(0.1)
        assert not workers <= set(children_of(server_pid)), "the cancelled job's worker is still there"
        again = await _verify(client, {"path": str(problem), "candidatePath": str(CASES / "relu_ok.py")})
        assert again["passed"] is True, again
        # window/logMessage carries what the user must read (the device), not the server's
        # chatter, which goes to stderr only (editors show both: no line twice)
        logged = [m.message for m in client.log_messages]
        assert any("verify worker ready" in m for m in logged), logged
        assert not any("cancelled from the progress UI" in m for m in logged), logged
