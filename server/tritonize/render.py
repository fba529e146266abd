"""Reports as text for people: terminal tables (CLI), verdicts, markdown (hover, bench reports).

Runs in the server/CLI process; both front doors (cli/ and lsp/) use it, so it imports neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .report import CandidateResult, Report

if TYPE_CHECKING:  # the pool module is loaded only by flows that verify
    from .verify.pool import DeviceInfo, ProbeResult


def _fmt_ms(v: float | None) -> str:
    return f"{v:.4f}" if v is not None else "-"


def _fmt_x(v: float | None) -> str:
    return f"{v:.2f}x" if v is not None else "-"


def result_row(r: CandidateResult, report: Report) -> list[str]:
    t = r.timing
    status = "PASS" if r.passed else (r.kind or "fail").upper()
    chosen = "*" if r.candidate_id == report.best else " "
    return [
        chosen + r.candidate_id,
        status,
        _fmt_ms(t.ms if t else None) if report.timed else "not timed",
        _fmt_x(t.speedup_eager if t else None),
        _fmt_x(t.speedup_compile if t else None),
        shapes_cell(r),
        r.message,
    ]


def shapes_cell(r: CandidateResult) -> str:
    """"all 5" (right on every shape tried), "recipe only", or "-" (not checked)."""
    if r.shapes is None:
        return "-"
    if not r.shapes.all_ok:
        return "recipe only"
    return f"all {len(r.shapes.tried) + 1}" if r.shapes.tried else "recipe (no other)"


def text_table(headers: list[str], rows: list[list[str]], max_last: int | None = None) -> str:
    """A plain-text table with a dashed rule; the last column is cut at `max_last` characters if given."""
    if max_last is not None:
        rows = [row[:-1] + [row[-1] if len(row[-1]) <= max_last else row[-1][: max_last - 1] + "…"] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(out)


def report_text(report: Report) -> str:
    lines = [f"tritonize report: {report.problem_name}" + (f" ({report.path})" if report.path else "")]
    lines.append(f"device: {report.device}" + ("" if report.timed else "  — not timed (no GPU)"))
    if report.versions:
        lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in sorted(report.versions.items()) if v))
    if report.isolation:
        lines.append("isolation: " + isolation_summary(report.isolation))
    if report.error:
        lines.append(f"problem error ({report.error_kind}): {report.error}")
        return "\n".join(lines)
    if report.dtype:
        lines.append(f"dtype: {report.dtype}   inputs: {', '.join(report.input_shapes)}")
    if report.tolerance:
        lines.append(f"tolerance: {report.tolerance.describe()}")
    if report.timed and report.eager_ms is not None:
        lines.append(f"eager: {_fmt_ms(report.eager_ms)} ms   torch.compile: {_fmt_ms(report.compile_ms)} ms")
    for g in report.generators:
        state = f"{g.produced} candidate(s)" if not g.skipped or g.produced else f"skipped: {g.skipped}"
        lines.append(f"generator {g.name}: {state} in {g.seconds:.1f}s")
    lines.append("")
    headers = ["candidate", "status", "ms", "x eager", "x compile", "shapes", "message"]
    lines.append(text_table(headers, [result_row(r, report) for r in report.results], max_last=90))
    if report.rounds:
        lines += ["", rounds_text(report)]
    best = report.best_result()
    lines.append("")
    if best:
        drop = {True: "yes", False: "no (weights seed-matched)", None: "unknown"}[best.drop_in]
        lines.append(f"chosen: {best.candidate_id} ({best.origin}), drop-in: {drop}")
        slower = report.not_faster(float(report.settings.get("min_speedup", 1.0) or 1.0))
        if slower:
            lines.append(f"{slower}: not inserted unless asked for (insert_slower / --insert-slower)")
        if report.shapes_line():
            lines.append(report.shapes_line() or "")
    else:
        lines.append(report.specialised_only() or "no candidate passed verification")
    if report.stage_seconds:
        lines.append("time: " + ", ".join(f"{k} {v:.1f}s" for k, v in report.stage_seconds.items()))
    return "\n".join(lines)


def rounds_text(report: Report) -> str:
    """The refinement loop, one row per round: what it asked for, what it got, and the best so far."""
    rows = []
    for r in report.rounds:
        best = r.best or "-"
        rows.append([str(r.round), r.asked, f"{r.correct}/{len(r.candidates)}", best,
                     _fmt_x(r.best_speedup_eager), _fmt_x(r.best_speedup_compile), str(r.tokens), f"{r.seconds:.1f}",
                     r.feedback or "-"])
    title = f"refinement: {len(report.rounds)} round(s)"
    last = report.rounds[-1]
    if last.stop:
        title += f", stopped after round {last.round}: {last.stop}"
    headers = ["round", "asked", "correct", "best so far", "x eager", "x compile", "tokens", "s", "fed back"]
    return title + "\n" + text_table(headers, rows, max_last=70)


# The layers people ask about first, in the order a candidate meets them (the rest follow by name).
ISOLATION_ORDER = ("pidns", "landlock", "seccomp", "network", "memory", "audit")


def isolation_layers(layers: dict[str, str]) -> list[tuple[str, bool, str]]:
    """(layer, active?, status) in a stable order; rlimits folded into one line."""
    rows: list[tuple[str, bool, str]] = []
    for name in [*ISOLATION_ORDER, *sorted(k for k in layers if k not in ISOLATION_ORDER and
                                             not k.startswith("rlimit-"))]:
        if name in layers:
            status = layers[name]
            rows.append((name, not status.startswith(("unavailable", "off")), status))
    limits = {k[len("rlimit-"):]: v for k, v in layers.items() if k.startswith("rlimit-")}
    if limits:
        rows.append(("rlimits", True, ", ".join(f"{k}={v}" for k, v in sorted(limits.items()))))
    return rows


def isolation_summary(layers: dict[str, str]) -> str:
    """One line for a report: "pidns ✓ landlock ✓ seccomp ✓ network ✓ … (missing: …)"."""
    rows = isolation_layers(layers)
    active = " ".join(f"{name} ✓" for name, ok, _ in rows if ok)
    missing = [f"{name} ({status})" for name, ok, status in rows if not ok]
    return active + (f"; missing: {'; '.join(missing)}" if missing else "")


def hover_markdown(report: Report) -> str:
    """The hover table: candidate origin, status, ms, × eager, × torch.compile, GPU, dtype, shapes, tolerance, when."""
    out = [f"**tritonize: {report.problem_name}**", ""]
    if report.error:
        out.append(f"Problem error ({report.error_kind}): {report.error}")
        return "\n".join(out)
    timed = report.timed
    out.append("| variant | status | ms | × eager | × torch.compile | shapes |")
    out.append("|---|---|---|---|---|---|")
    for r in report.results:
        t = r.timing
        name = f"**{r.candidate_id}** (chosen)" if r.candidate_id == report.best else r.candidate_id
        status = "pass" if r.passed else r.kind or "fail"
        ms = _fmt_ms(t.ms if t else None) if timed else "not timed (no GPU)"
        out.append(
            f"| {name} | {status} | {ms} | {_fmt_x(t.speedup_eager if t else None)} | "
            f"{_fmt_x(t.speedup_compile if t else None)} | {shapes_cell(r)} |"
        )
    out.append("")
    note = report.shapes_line() or report.specialised_only()
    if note:
        out.append(note)
        out.append("")
    slower = report.not_faster(float(report.settings.get("min_speedup", 1.0) or 1.0))
    if slower:
        out.append(f"**{slower}**: not inserted unless asked for")
        out.append("")
    tol = report.tolerance.describe() if report.tolerance else "-"
    out.append(
        f"GPU: {report.device if timed else report.device + ' — not timed (no GPU)'} · dtype: {report.dtype or '-'} · "
        f"shapes: {', '.join(report.input_shapes) or '-'} · tolerance: {tol} · when: {report.created}"
    )
    return "\n".join(out)


def verdict_text(r: CandidateResult, probe: ProbeResult, device: DeviceInfo, candidate: str, target: str) -> str:
    """A few readable lines for one verified candidate (`tritonize verify`, the LSP's verify
    command): the verdict, what was checked, timing, findings."""
    head = "PASS" if r.passed else f"FAIL ({r.kind})"
    lines = [f"{head}  {candidate} vs {target}  [{device.name}]"]
    if not r.passed:
        lines.append(f"  {r.message}")
    if r.passed:
        lines.append(f"  checked on {r.seeds} seed(s) at {probe.tolerance.describe()}, "
                     f"inputs {', '.join(probe.input_shapes)}")
    else:
        lines.append(f"  tolerance {probe.tolerance.describe()}, inputs {', '.join(probe.input_shapes)}")
    details = []
    if r.passed and r.max_abs_err is not None:
        details.append(f"max |Δ| {r.max_abs_err:.3g}" + (f" at {r.worst_index}" if r.worst_index else ""))
    if r.passed and r.rel_err is not None:
        details.append(f"rel err {r.rel_err:.2g}")
    if r.kernels_launched:
        details.append(f"{r.kernels_launched} Triton kernel launch(es) per forward")
    if r.drop_in is not None:
        details.append("drop-in (weights load with load_state_dict)" if r.drop_in else
                       "not drop-in (load_state_dict failed; compared with same-seed initialisation)")
    if details:
        lines.append("  " + "; ".join(details))
    t = r.timing
    if t is not None:
        parts = [f"{t.ms:.4g} ms (median of {t.runs} runs)"]
        if t.eager_ms:
            parts.append(f"eager {t.eager_ms:.4g} ms → {t.speedup_eager:.2f}×")
        if t.compile_ms:
            parts.append(f"torch.compile {t.compile_ms:.4g} ms → {t.speedup_compile:.2f}×")
        lines.append("  timing: " + ", ".join(parts))
    elif r.passed:
        lines.append("  not timed" + ("" if device.timed else " (no GPU: correctness only, TRITON_INTERPRET=1)"))
    if r.shapes is not None:
        lines.append(f"  shapes: {r.shapes.describe()}")
        if r.shapes.skipped:
            lines.append(f"  shapes skipped: {'; '.join(r.shapes.skipped)}")
        for st in r.shapes.timings:
            x = f" ({st.speedup_eager:.2f}× eager)" if st.speedup_eager else ""
            lines.append(f"  timing at {st.shape}: {st.ms:.4g} ms{x}")
    for f in r.findings:
        if f.rule == "shapes":
            continue  # said above
        where = f" (line {f.line})" if f.line else ""
        lines.append(f"  {'fatal' if f.fatal else 'note'}: {f.rule}: {f.message}{where}")
    return "\n".join(lines)
