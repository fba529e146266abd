"""Language server latency: what an editor user waits for.

    .venv/bin/python benchmarks/lsp_latency.py [--rounds 200] [--no-conversion]

Starts `tritonize serve` over stdio (a real subprocess, as an editor does) and measures:
- start → `initialize` response (goal ≤ 300 ms); the first start in a fresh cache directory (no
  stored initialize answer yet: pygls answers itself) is its own row
- start → first answer from the loaded server (`tritonize/debugInfo` sent right after `initialized`)
- code-action listing on a generated 5,000-line file with 50 module classes (goal p99 ≤ 10 ms),
  on an unchanged document and right after an edit (the document re-parsed)
- hover from the store (goal p99 ≤ 5 ms)
- a 5 MB document: the longest any request waits while the user types in it (goal ≤ 50 ms: the
  server applies each change with its line index carried over and parses big documents in a helper
  process), and code actions / hover right after an edit there (they await that parse)
- any request while a conversion runs in the server (goal ≤ 50 ms)
- idle RSS of the server process (goal ≤ 60 MB)
and prints a table with medians and p99s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import statistics
import sys
import tempfile
import time

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

CLASS = '''

class Block{i}(nn.Module):
    """Module {i}: scale, bias, activation, a residual."""

    def __init__(self, hidden: int = 256, scale: float = 0.5):
        super().__init__()
        self.scale = scale
        self.bias = nn.Parameter(torch.zeros(hidden))
        self.weight = nn.Parameter(torch.ones(hidden))
{filler}
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x * self.scale + self.bias
        y = torch.nn.functional.gelu(y)
        return y * self.weight + x
'''


def make_file(classes: int = 50, lines: int = 5000) -> str:
    head = "import torch\nimport torch.nn as nn\n"
    per_class = (lines - 10) // classes
    base = CLASS.format(i=0, filler="").count("\n")
    filler_lines = max(0, per_class - base - 1)
    filler = "".join(f"        # padding line {k}: configuration notes for this block\n" for k in range(filler_lines))
    body = "".join(CLASS.format(i=i, filler=filler) for i in range(classes))
    tail = "\n\ndef get_inputs():\n    return [torch.randn(8, 256)]\n\n\ndef get_init_inputs():\n    return []\n"
    return head + body + tail


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def rss_mb(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def timed(coro) -> float:
    t0 = time.perf_counter()
    await coro
    return (time.perf_counter() - t0) * 1000


async def run(args: argparse.Namespace) -> list[tuple[str, list[float], float, str]]:
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="tritonize-lsp-bench-"))
    env = dict(os.environ, TRITONIZE_CACHE_DIR=str(tmp / "cache"), TRITONIZE_LOG_LEVEL="WARNING")
    env.setdefault("TRITON_INTERPRET", "1")
    rows: list[tuple[str, list[float], float, str]] = []

    # start → initialize, several cold starts; the first one in a fresh cache directory
    starts: list[float] = []
    ready: list[float] = []
    first_start = float("nan")
    for i in range(args.starts + 1):
        client = LanguageClient("bench", "0")
        t0 = time.perf_counter()
        await client.start_io(sys.executable, "-m", "tritonize.cli.main", "serve", env=env)
        await client.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities()))
        t_init = (time.perf_counter() - t0) * 1000
        client.initialized(lsp.InitializedParams())
        await client.protocol.send_request_async("tritonize/debugInfo", {})
        t_ready = (time.perf_counter() - t0) * 1000
        if i == 0:
            first_start = t_init
        else:
            starts.append(t_init)
            ready.append(t_ready)
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
    rows.append(("start → initialize response", starts, 300, "ms"))
    rows.append(("start → initialize, first start in a fresh cache dir", [first_start], float("nan"), "ms"))
    rows.append(("start → first answer of the loaded server", ready, float("nan"), "ms"))

    client = LanguageClient("bench", "0")
    await client.start_io(sys.executable, "-m", "tritonize.cli.main", "serve", env=env)
    caps = lsp.ClientCapabilities(
        text_document=lsp.TextDocumentClientCapabilities(code_action=lsp.CodeActionClientCapabilities(
            code_action_literal_support=lsp.ClientCodeActionLiteralOptions(
                code_action_kind=lsp.ClientCodeActionKindOptions(value_set=[lsp.CodeActionKind.RefactorRewrite])),
            resolve_support=lsp.ClientCodeActionResolveOptions(properties=["edit"]), data_support=True)),
        window=lsp.WindowClientCapabilities(work_done_progress=False),
    )
    await client.initialize_async(lsp.InitializeParams(capabilities=caps))
    client.initialized(lsp.InitializedParams())
    pid = client._server.pid

    path = tmp / "big.py"
    text = make_file()
    path.write_text(text)
    uri = path.as_uri()
    n_lines = text.count("\n")
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    class_lines = [i for i, line in enumerate(text.splitlines()) if line.startswith("class Block")]
    body_lines = [i + 9 for i in class_lines]

    def action_params(line: int) -> lsp.CodeActionParams:
        p = lsp.Position(line, 8)
        return lsp.CodeActionParams(lsp.TextDocumentIdentifier(uri), lsp.Range(p, p), lsp.CodeActionContext([]))

    first = await timed(client.text_document_code_action_async(action_params(body_lines[0])))
    listing = [await timed(client.text_document_code_action_async(action_params(body_lines[i % len(body_lines)])))
               for i in range(args.rounds)]
    rows.append((f"code actions, unchanged doc ({n_lines} lines, {len(class_lines)} classes)", listing, 10, "ms"))

    edited: list[float] = []
    for i in range(min(args.rounds, 60)):
        pos = lsp.Position(class_lines[i % len(class_lines)] + 1, 8)  # a letter into a docstring
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(version=i + 2, uri=uri),
            [lsp.TextDocumentContentChangePartial(range=lsp.Range(pos, pos), text="x")]))
        edited.append(await timed(client.text_document_code_action_async(action_params(body_lines[i % len(body_lines)]))))
    rows.append(("code actions, first after an edit (re-parse)", edited, float("nan"), "ms"))

    # hover from the store: a report per class, written the way the pipeline writes them
    from tritonize.report import CandidateResult, Report, Timing
    from tritonize.store import Store

    store = Store(str(tmp / "cache"))
    for i in range(len(class_lines)):
        r = CandidateResult(candidate_id=f"template:gelu/b{i}", origin="template:gelu", passed=True,
                            timing=Timing(ms=0.01, eager_ms=0.03, compile_ms=0.02))
        store.put(Report(problem_name=f"Block{i}", key=f"k{i}", path=str(path), timed=True, results=[r],
                         best=r.candidate_id, created="2025-01-01T00:00:00+00:00", device="bench"))
    store.close()
    hovers = []
    for i in range(args.rounds):
        line = class_lines[i % len(class_lines)]
        hovers.append(await timed(client.text_document_hover_async(
            lsp.HoverParams(lsp.TextDocumentIdentifier(uri), lsp.Position(line, 8)))))
    rows.append(("hover from the store", hovers, 5, "ms"))

    idle = rss_mb(pid)

    # a 5 MB document: type into it while another request is sent every few milliseconds
    big5_path = tmp / "big5.py"
    big5 = make_file(classes=900, lines=90000)
    big5_path.write_text(big5)
    big5_uri = big5_path.as_uri()
    mb = len(big5.encode()) / 1e6
    big5_classes = [i for i, line in enumerate(big5.splitlines()) if line.startswith("class Block")]
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        lsp.TextDocumentItem(uri=big5_uri, language_id="python", version=1, text=big5)))
    p0 = lsp.Position(big5_classes[0] + 9, 8)
    first5 = await timed(client.text_document_code_action_async(
        lsp.CodeActionParams(lsp.TextDocumentIdentifier(big5_uri), lsp.Range(p0, p0), lsp.CodeActionContext([]))))
    waits: list[float] = []
    typing = True

    async def probe() -> None:
        while typing:
            waits.append(await timed(client.protocol.send_request_async("tritonize/debugInfo", {})))
            await asyncio.sleep(0.005)

    if args.freeze_client_gc:
        # The benchmark client is Python too: its collector's full passes over its own lsprotocol
        # objects delay reading an answer by tens of milliseconds, which is not the server's wait.
        import gc

        gc.freeze()
    prober = asyncio.ensure_future(probe())
    version = 1
    after_edit: list[float] = []
    hover_after_edit: list[float] = []
    for i in range(args.big_edits):
        for _ in range(5):  # a burst of keystrokes, then a pause in which the editor asks for actions
            version += 1
            pos = lsp.Position(big5_classes[i % len(big5_classes)] + 1, 8)
            client.text_document_did_change(lsp.DidChangeTextDocumentParams(
                lsp.VersionedTextDocumentIdentifier(version=version, uri=big5_uri),
                [lsp.TextDocumentContentChangePartial(range=lsp.Range(pos, pos), text="x")]))
            await asyncio.sleep(0.03)
        line = big5_classes[(i * 7) % len(big5_classes)]
        p = lsp.Position(line + 9, 8)
        after_edit.append(await timed(client.text_document_code_action_async(lsp.CodeActionParams(
            lsp.TextDocumentIdentifier(big5_uri), lsp.Range(p, p), lsp.CodeActionContext([])))))
        hover_after_edit.append(await timed(client.text_document_hover_async(
            lsp.HoverParams(lsp.TextDocumentIdentifier(big5_uri), lsp.Position(line, 8)))))
    typing = False
    await prober
    rows.append((f"5 MB document ({mb:.1f} MB): longest wait of a request while typing", [max(waits)], 50, "ms"))
    rows.append(("5 MB document: any request while typing", waits, float("nan"), "ms"))
    rows.append(("5 MB document: code actions right after an edit (parse)", after_edit, float("nan"), "ms"))
    rows.append(("5 MB document: hover right after an edit", hover_after_edit, float("nan"), "ms"))
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(lsp.TextDocumentIdentifier(big5_uri)))

    if not args.no_conversion:
        example = ROOT / "examples" / "fused_activation.py"
        conv_path = tmp / "fused_activation.py"
        conv_path.write_text(example.read_text())
        conv_uri = conv_path.as_uri()
        client.text_document_did_open(lsp.DidOpenTextDocumentParams(
            lsp.TextDocumentItem(uri=conv_uri, language_id="python", version=1, text=conv_path.read_text())))
        client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(
            settings={"tritonize": {"generators": ["template"], "n": 1, "seeds": 1, "useCache": False}}))
        line = next(i for i, s in enumerate(conv_path.read_text().splitlines()) if s.startswith("class FusedGeluScale"))
        p = lsp.Position(line, 8)
        (action,) = await client.text_document_code_action_async(lsp.CodeActionParams(
            lsp.TextDocumentIdentifier(conv_uri), lsp.Range(p, p), lsp.CodeActionContext([])))
        t_conv = time.perf_counter()
        conversion = asyncio.ensure_future(client.code_action_resolve_async(action))
        during: list[float] = []
        while not conversion.done():
            i = len(during)
            req = (client.text_document_hover_async(lsp.HoverParams(lsp.TextDocumentIdentifier(uri),
                                                                    lsp.Position(class_lines[i % 50], 8)))
                   if i % 2 else client.text_document_code_action_async(action_params(body_lines[i % 50])))
            during.append(await timed(req))
            await asyncio.sleep(0.02)
        conv_s = time.perf_counter() - t_conv
        resolved = conversion.result()
        outcome = "edit" if resolved.edit else "no edit"
        rows.append((f"requests during a conversion ({conv_s:.1f} s, {outcome})", during, 50, "ms"))

    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    rows.append(("idle RSS of the server", [idle], 60, "MB"))
    print(f"first code-action request on the opened document (parse): {first:.1f} ms")
    print(f"first code-action request on the opened 5 MB document (helper process start + parse): {first5:.1f} ms")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--no-conversion", action="store_true", help="skip the during-a-conversion row")
    parser.add_argument("--freeze-client-gc", action="store_true",
                        help="gc.freeze() in this client before typing in the 5 MB document")
    parser.add_argument("--big-edits", type=int, default=20, help="edit bursts in the 5 MB document")
    args = parser.parse_args()
    rows = asyncio.run(run(args))
    print()
    print(f"{'measure':<62} {'n':>4} {'median':>9} {'p99':>9} {'goal':>8}  ok")
    for name, values, goal, unit in rows:
        med, p99 = statistics.median(values), pct(values, 0.99)
        ok = "-" if goal != goal else ("yes" if p99 <= goal else "NO")
        goal_s = "-" if goal != goal else f"{goal:g} {unit}"
        print(f"{name:<62} {len(values):>4} {med:>6.1f} {unit:<2} {p99:>6.1f} {unit:<2} {goal_s:>8}  {ok}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
