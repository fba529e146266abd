"""The refinement loop's pure parts: what one round's verdicts teach the next prompt, which correct
kernel is the best so far, and when the loop stops (docs/LLM.md, "Refinement rounds").

generate/llm.py runs the rounds; everything here works on CandidateResults alone (no I/O, no torch),
so the feedback a GPU run would write (times against eager and torch.compile) is testable anywhere.

The feedback names every kind of trouble the verifier finds, in the words a model can act on:
- a syntax or compile error with its message and the candidate's line, quoted;
- a mismatch with its worst index, its error, and the input family or seed it failed on;
- missing kernel launches, torch fallbacks and other findings of the checks (kind, message, findings);
- for correct kernels the measured times against eager PyTorch and torch.compile.
It then shows the code of one kernel (the fastest correct one so far, else the failing one closest to
working) and asks for a faster version or for a fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..report import CandidateResult

ASK_FIRST, ASK_FIX, ASK_FASTER = "first", "fix", "faster"
# The order in which failures are worth fixing: a kernel that ran and was wrong is closer to working
# than one that never compiled; parse failures (no code) are last and never shown as code.
_CLOSENESS = ("mismatch", "cheat", "runtime", "timeout", "crash", "compile", "import", "syntax")
# Findings that describe the check rather than the kernel: not fed back.
_QUIET_RULES = {"seeds", "stress", "baseline", "shapes"}
MAX_LISTED = 6  # verdicts listed per round (the rest are counted)
MAX_CODE_CHARS = 12000  # a kernel longer than this is not quoted in full


@dataclass
class Feedback:
    text: str  # for the prompt's {feedback} placeholder: verdicts, one kernel's code, the request
    summary: str  # one short line for the report ("fix: compile 2, syntax 1")
    ask: str  # fix | faster


# ---- the best kernel so far and when to stop ----------------------------------------------------


def best_correct(results: list[CandidateResult]) -> CandidateResult | None:
    """Fastest correct candidate (untimed ones rank after timed ones); ties broken by fewer kernel
    launches, then shorter code. The loop's own view; the pipeline's `select_best` makes the choice."""
    passed = [r for r in results if r.passed]
    if not passed:
        return None
    return min(passed, key=lambda r: (r.timing.ms if r.timing and r.timing.ms else float("inf"),
                                      r.kernels_launched or 0, len(r.code)))


def speedup(r: CandidateResult | None) -> tuple[float | None, str]:
    """(speedup, baseline): over torch.compile when it was timed, else over eager; (None, "") untimed."""
    if r is None or r.timing is None:
        return None, ""
    if r.timing.speedup_compile is not None:
        return r.timing.speedup_compile, "compile"
    if r.timing.speedup_eager is not None:
        return r.timing.speedup_eager, "eager"
    return None, ""


def target_reached(best: CandidateResult | None, target: float | None) -> bool:
    value, _ = speedup(best)
    return target is not None and value is not None and value >= target


def progress_line(round_no: int, rounds: int, correct: int, best: CandidateResult | None) -> str:
    """'round 2/4 · 7 correct · best 1.31× compile' (the editor's progress and the CLI's)."""
    value, baseline = speedup(best)
    if best is None:
        tail = "none correct yet"
    elif value is None:
        tail = f"best {best.candidate_id} (not timed)"
    else:
        tail = f"best {value:.2f}× {baseline}"
    return f"round {round_no}/{rounds} · {correct} correct · {tail}"


# ---- describing verdicts ------------------------------------------------------------------------


def _ms(v: float | None) -> str:
    return f"{v:.4g} ms" if v is not None else "-"


def timing_text(r: CandidateResult) -> str:
    t = r.timing
    if t is None:
        return "not timed on this machine"
    parts = [_ms(t.ms)]
    if t.eager_ms:
        parts.append(f"eager PyTorch {_ms(t.eager_ms)} ({t.speedup_eager:.2f}× speedup)")
    if t.compile_ms:
        parts.append(f"torch.compile {_ms(t.compile_ms)} ({t.speedup_compile:.2f}× speedup)")
    return "; ".join(parts)


_LINE = re.compile(r"\b(?:candidate )?line (\d+)\b")


def quoted_line(r: CandidateResult, line: int | None = None) -> str | None:
    """The candidate's line that an error names ("line 12: `offs = ...`"), when it has code."""
    if line is None:
        m = _LINE.search(r.message or "")
        line = int(m.group(1)) if m else None
    lines = r.code.splitlines()
    if line is None or not 1 <= line <= len(lines) or r.kind == "syntax" and not _looks_like_code(r):
        return None
    return f"line {line}: `{lines[line - 1].strip()}`"


_NAMED = re.compile(r"has no attribute '(\w+)'|name '(\w+)' is not defined|cannot import name '(\w+)'")


def named_line(r: CandidateResult) -> str | None:
    """Where the unknown name an error complains about is used ("line 16: `out = tl.no_such_op(x)`"):
    an error raised inside a kernel may point at the launch, not at the line to fix."""
    m = _NAMED.search(r.message or "")
    if not m:
        return None
    name = next(g for g in m.groups() if g)
    for i, line in enumerate(r.code.splitlines(), start=1):
        if re.search(rf"\b{re.escape(name)}\b", line):
            return f"line {i}: `{line.strip()}`"
    return None


def _looks_like_code(r: CandidateResult) -> bool:
    return "ModelNew" in r.code or "import" in r.code


_FAMILY = re.compile(r"\bfails on ([^:;(]+)|\bon ([a-z][\w -]* (?:rows|inputs|values|family))|\(seed (\d+)\)")


def failed_input(r: CandidateResult) -> str | None:
    """Which inputs the kernel failed on: a stress family ("constant rows"), a seed, or another shape."""
    m = _FAMILY.search(r.message or "")
    if m:
        if m.group(3):
            return f"random inputs (seed {m.group(3)})"
        return (m.group(1) or m.group(2)).strip()
    shapes = getattr(r, "shapes", None)
    failed = getattr(shapes, "failed", None)
    if failed:
        shape, why = next(iter(failed.items()))
        return f"input shape {shape} ({why})"
    return None


def describe(r: CandidateResult) -> str:
    """One verdict for the prompt: what happened, with the numbers and lines that matter."""
    if r.passed:
        text = f"correct; {timing_text(r)}"
        failed = getattr(getattr(r, "shapes", None), "failed", None)
        if failed:
            shape, why = next(iter(failed.items()))
            text += f"; but wrong at input shape {shape}: {why}"
    elif r.kind == "syntax" and not _looks_like_code(r):
        return f"no usable code: {r.message}"
    else:
        label = {"syntax": "syntax error", "compile": "does not compile", "import": "does not import",
                 "runtime": "raises at run time", "mismatch": "wrong result", "timeout": "too slow (timed out)",
                 "crash": "crashed the process", "cheat": "rejected by the checks"}.get(r.kind or "", r.kind or "failed")
        text = f"{label}: {r.message}"
        if r.kind == "mismatch":
            details = []
            if r.worst_index:
                details.append(f"worst at {r.worst_index}")
            if r.max_abs_err is not None and "|Δ|" not in r.message:
                details.append(f"max abs error {r.max_abs_err:.3g}")
            if r.rel_err is not None and "rel err" not in r.message:
                details.append(f"relative error {r.rel_err:.3g}")
            details.append(f"failed on {failed_input(r) or 'the recipe inputs'}")
            if details:
                text += " (" + ", ".join(details) + ")"
        for where in dict.fromkeys(w for w in (quoted_line(r), named_line(r)) if w):
            text += f"\n    {where}"
    for f in [f for f in r.findings if f.fatal or f.rule not in _QUIET_RULES][:3]:
        line = f" ({quoted_line(r, f.line) or f'line {f.line}'})" if f.line else ""
        text += f"\n    {'error' if f.fatal else 'note'}: {f.rule}: {f.message}{line}"
    return text


def _closeness(r: CandidateResult) -> int:
    kind = r.kind or "runtime"
    rank = _CLOSENESS.index(kind) if kind in _CLOSENESS else len(_CLOSENESS)
    return rank + (100 if not _looks_like_code(r) else 0)


# ---- the feedback for the next round --------------------------------------------------------------


def build_feedback(results: list[CandidateResult], best: CandidateResult | None, *, round_no: int,
                   eager_ms: float | None = None, compile_ms: float | None = None) -> Feedback:
    """What round `round_no`'s verdicts (`results`) and the best correct kernel of all rounds so far
    (`best`) tell the next round's prompt."""
    correct = [r for r in results if r.passed]
    failed = sorted((r for r in results if not r.passed), key=_closeness)
    lines = [f"Round {round_no}: {len(results)} answer(s) were checked against the module; {len(correct)} correct."]
    listed = 0
    seen: dict[tuple, int] = {}
    for r in sorted(correct, key=lambda r: r.timing.ms if r.timing else float("inf")) + failed:
        key = (r.passed, r.kind, re.sub(r"[-+\d.,e]+", "#", r.message))  # the same error with other numbers
        if key in seen and not r.passed:
            seen[key] += 1
            continue
        seen[key] = 0
        if listed < MAX_LISTED:
            lines.append(f"- {_label(r)}: {describe(r)}")
            listed += 1
    repeats = sum(seen.values())
    if repeats:
        lines.append(f"({repeats} more answer(s) failed with an error listed above)")
    if listed < len(seen):
        lines.append(f"({len(seen) - listed} more answer(s) not listed)")
    if eager_ms or compile_ms:
        lines.append(f"The original module takes {_ms(eager_ms)} in eager PyTorch and {_ms(compile_ms)} with torch.compile.")

    if best is not None:
        ask = ASK_FASTER
        value, baseline = speedup(best)
        how = f"{timing_text(best)}" if best.timing else "correct; not timed on this machine"
        lines += ["", f"The fastest correct kernel so far ({how}):", _code_block(best.code), "",
                  "It is correct. Write a faster version of it: fuse more of the work into fewer kernels, load and "
                  "store each element once, pick block sizes that fill the GPU, and keep it correct. Name it ModelNew."]
        summary = (f"faster than {best.candidate_id} ({value:.2f}× {baseline})" if value is not None
                   else f"faster than {best.candidate_id}")
    else:
        ask = ASK_FIX
        to_fix = next((r for r in failed if _looks_like_code(r)), None)
        if to_fix is not None:
            lines += ["", f"The answer closest to working ({_label(to_fix)}, {to_fix.kind}):", _code_block(to_fix.code)]
        lines += ["", "None of them is correct yet. Fix the errors above: make the kernel compile, launch at least one "
                  "Triton kernel in forward, and compute exactly what the module computes. Name it ModelNew."]
        kinds: dict[str, int] = {}
        for r in failed:
            kinds[r.kind or "failed"] = kinds.get(r.kind or "failed", 0) + 1
        summary = "fix: " + ", ".join(f"{k} {v}" for k, v in kinds.items()) if kinds else "fix"
        if to_fix is not None:
            summary += f" (shown: {to_fix.candidate_id})"
    return Feedback(text="\n".join(lines), summary=summary, ask=ask)


def _label(r: CandidateResult) -> str:
    """"answer 3" for llm:<model>/3; other origins by their id."""
    return f"answer {r.candidate_id.rsplit('/', 1)[-1]}" if r.candidate_id.startswith("llm:") else r.candidate_id


def _code_block(code: str) -> str:
    code = code.strip()
    if len(code) > MAX_CODE_CHARS:
        code = code[:MAX_CODE_CHARS] + "\n# ... (cut)"
    return f"```python\n{code}\n```"
