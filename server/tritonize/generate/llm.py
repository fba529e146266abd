"""The `llm` generator: candidates sampled from a language model such as KernelLLM.

Server side only: it builds the prompt, then samples either in the model host child process
(transformers, llama.cpp: `ctx.model_host`) or from an OpenAI-compatible server over HTTP, and turns
each sample into one Candidate (candidate.parse_model_output). Text streams to `ctx.on_text` as it
is written; each sample goes to the verifier (`ctx.emit`) as soon as its code block closes, not after
the last one. No model runtime is imported here (invariant 1).

With `settings.rounds` > 1 it refines: after each round it waits for that round's verdicts, writes
what they found into the next prompt (generate/refine.py, prompts/refine_v1.txt) and asks for a fix,
or for a faster version of the fastest correct kernel so far; it stops early at the speedup target,
when the time or token budget is spent, or on cancel. Each round becomes a RoundRecord in the report.
"""

from __future__ import annotations

import importlib.util
import os
import random
import re
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field

from ..cancel import Cancelled, CancelToken
from ..candidate import PARSE_PREFIX, Candidate, parse_model_output
from ..problem import Problem
from ..report import CandidateResult, RoundRecord
from ..settings import ModelSettings
from . import GenerateContext, GeneratorSkipped
from .refine import ASK_FIRST, Feedback, best_correct, build_feedback, progress_line, speedup, target_reached
from .runtimes import SampleRequest

PROMPTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "prompts")
DEFAULT_PROMPT = "kernelllm_v1.txt"
DEFAULT_CHAT_PROMPT = "kernelllm_chat_v1.txt"
SYSTEM_PROMPT = "system_v1.txt"
REFINE_PROMPT = "refine_v1.txt"
REFINE_CHAT_PROMPT = "refine_chat_v1.txt"
PLACEHOLDER = "{problem}"
FEEDBACK = "{feedback}"

# ---- configuration ------------------------------------------------------------------------------


@dataclass
class ModelChoice:
    runtime: str  # transformers | llama_cpp | openai
    name: str  # shown in the origin: llm:<name>
    chat: bool  # chat messages instead of a raw completion prompt


def resolve(m: ModelSettings) -> ModelChoice:
    """Which runtime serves these settings; GeneratorSkipped says what to set when none can."""
    if m.url and (m.runtime == "openai" or not m.path):
        return ModelChoice("openai", m.name or "", chat=m.endpoint == "chat" or m.chat_template)
    if not m.path:
        if m.runtime == "openai":
            raise GeneratorSkipped("model.runtime is openai but model.url is not set")
        raise GeneratorSkipped("no model configured: set model.path (HF dir or .gguf) or model.url")
    path = os.path.expanduser(m.path)
    if not os.path.exists(path):
        raise GeneratorSkipped(f"model.path {m.path} does not exist")
    gguf = path.endswith(".gguf") or (os.path.isfile(path) and _is_gguf(path))
    runtime = "llama_cpp" if gguf or m.runtime == "llama_cpp" else "transformers"
    if runtime == "transformers" and not os.path.isfile(os.path.join(path, "config.json")):
        raise GeneratorSkipped(f"{m.path} is neither a GGUF file nor a transformers checkpoint directory (no config.json)")
    module = {"transformers": "transformers", "llama_cpp": "llama_cpp"}[runtime]
    if importlib.util.find_spec(module) is None:
        raise GeneratorSkipped(f"{module} is not installed (run `make setup-llm`, or pip install 'tritonize[{module.replace('_', '-')}]')")
    name = m.name or os.path.basename(path.rstrip("/")).removesuffix(".gguf")
    return ModelChoice(runtime, name, chat=m.chat_template)


def _is_gguf(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"GGUF"


def load_template(m: ModelSettings, chat: bool) -> str:
    path = os.path.expanduser(m.prompt) if m.prompt else os.path.join(PROMPTS_DIR, DEFAULT_CHAT_PROMPT if chat else DEFAULT_PROMPT)
    try:
        with open(path, encoding="utf-8") as f:
            template = f.read()
    except OSError as e:
        raise GeneratorSkipped(f"cannot read prompt template {path}: {e.strerror or e}") from None
    if PLACEHOLDER not in template:
        raise GeneratorSkipped(f"prompt template {path} has no {PLACEHOLDER} placeholder for the module")
    return template


def build_prompt(problem: Problem, m: ModelSettings, chat: bool) -> tuple[str | None, list[dict] | None]:
    """(raw prompt, None) or (None, chat messages) for this problem."""
    text = load_template(m, chat).replace(PLACEHOLDER, problem.source.strip())
    return _as_request(text, chat)


def _as_request(text: str, chat: bool) -> tuple[str | None, list[dict] | None]:
    if not chat:
        return text, None
    with open(os.path.join(PROMPTS_DIR, SYSTEM_PROMPT), encoding="utf-8") as f:
        system = f.read().strip()
    return None, [{"role": "system", "content": system}, {"role": "user", "content": text}]


def load_refine_template(m: ModelSettings, chat: bool) -> str:
    """The template of rounds 2 and later: `model.refine_prompt`, else the built-in one; it needs both
    the {problem} and the {feedback} placeholder."""
    path = os.path.expanduser(m.refine_prompt) if m.refine_prompt else \
        os.path.join(PROMPTS_DIR, REFINE_CHAT_PROMPT if chat else REFINE_PROMPT)
    try:
        with open(path, encoding="utf-8") as f:
            template = f.read()
    except OSError as e:
        raise GeneratorSkipped(f"cannot read refinement prompt template {path}: {e.strerror or e}") from None
    missing = [p for p in (PLACEHOLDER, FEEDBACK) if p not in template]
    if missing:
        raise GeneratorSkipped(f"refinement prompt template {path} has no {' or '.join(missing)} placeholder")
    return template


def build_refine_prompt(problem: Problem, m: ModelSettings, chat: bool, feedback: str) -> tuple[str | None, list[dict] | None]:
    """The prompt of a later round: the module and what the verifier found (one pass, so braces in the
    module or in the fed-back code are never read as placeholders)."""
    values = {PLACEHOLDER: problem.source.strip(), FEEDBACK: feedback.strip()}
    text = re.sub(r"\{problem\}|\{feedback\}", lambda mt: values[mt.group(0)], load_refine_template(m, chat))
    return _as_request(text, chat)


def load_settings(m: ModelSettings, runtime: str) -> dict:
    """What the host needs to load the model (and what keys a loaded model)."""
    return {"runtime": runtime, "path": os.path.abspath(os.path.expanduser(m.path or "")), "dtype": m.dtype,
            "gpu_layers": m.gpu_layers, "n_ctx": m.n_ctx, "threads": m.threads}


# ---- the generator ------------------------------------------------------------------------------


class LLMGenerator:
    name = "llm"

    def generate(self, problem: Problem, ctx: GenerateContext) -> list[Candidate]:
        m = ctx.settings.model
        choice = resolve(m)
        rounds = ctx.settings.rounds if ctx.emit is not None else 1  # refining needs the verdicts
        if rounds > 1:
            load_refine_template(m, choice.chat)  # a bad template stops here, before any sampling
        return _Loop(problem, ctx, choice, rounds).run()


@dataclass
class _Round:
    """One round in flight: the samples handed to the verifier so far and their future verdicts."""

    number: int
    first_index: int  # candidate number (1-based) of its sample 0
    candidates: dict[int, Candidate] = field(default_factory=dict)
    futures: dict[int, Future[CandidateResult]] = field(default_factory=dict)
    tokens: int = 0
    stop: str | None = None  # set when a budget ran out in the middle of the round


class _Loop:
    """Round after round of sampling, each sample verified as soon as it is written."""

    def __init__(self, problem: Problem, ctx: GenerateContext, choice: ModelChoice, rounds: int) -> None:
        self.problem, self.ctx, self.choice, self.rounds = problem, ctx, choice, rounds
        self.m = ctx.settings.model
        self.n = ctx.settings.n
        self.seed = self.m.seed if self.m.seed is not None else random.randrange(2**31)
        self.started = time.monotonic()
        self.tokens = 0  # all rounds
        self.returned: list[Candidate] = []  # without ctx.emit: handed back at the end instead
        self.results: list[CandidateResult] = []  # all rounds' verdicts
        self.name = ""
        self._client = None

    # ---- the rounds -------------------------------------------------------------------------------

    def run(self) -> list[Candidate]:
        feedback: Feedback | None = None
        for number in range(1, self.rounds + 1):
            if feedback is None:
                prompt, messages = build_prompt(self.problem, self.m, self.choice.chat)
            else:
                prompt, messages = build_refine_prompt(self.problem, self.m, self.choice.chat, feedback.text)
            rnd = _Round(number=number, first_index=(number - 1) * self.n + 1)
            round_started = time.monotonic()
            self._sample(rnd, prompt, messages)
            if self.rounds == 1:
                break  # one-shot: the pipeline collects the verdicts; nothing to feed back
            results = self._verdicts(rnd)
            self.results += results
            best = best_correct(self.results)
            stop = rnd.stop or (self._stop_after(best) if number < self.rounds else None)
            self.ctx.on_round(RoundRecord(
                round=number, generator="llm", candidates=[c.candidate_id for _, c in sorted(rnd.candidates.items())],
                correct=sum(1 for r in results if r.passed), asked=feedback.ask if feedback else ASK_FIRST,
                feedback=feedback.summary if feedback else "", best=best.candidate_id if best else None,
                best_ms=best.timing.ms if best and best.timing else None,
                best_speedup_eager=best.timing.speedup_eager if best and best.timing else None,
                best_speedup_compile=best.timing.speedup_compile if best and best.timing else None,
                tokens=rnd.tokens, seconds=time.monotonic() - round_started, stop=stop))
            if stop is not None:
                self.ctx.progress(f"refinement stopped after round {number}: {stop}", 0, 0)
                break
            if number < self.rounds:
                feedback = build_feedback(results, best, round_no=number, eager_ms=self._baseline("eager_ms"),
                                          compile_ms=self._baseline("compile_ms"))
        return self.returned

    def _baseline(self, attr: str) -> float | None:
        """The module's eager or torch.compile time, from any timed verdict so far."""
        return next((getattr(r.timing, attr) for r in self.results if r.timing and getattr(r.timing, attr)), None)

    def _stop_after(self, best: CandidateResult | None) -> str | None:
        """Why no further round runs (None: go on)."""
        s = self.ctx.settings
        if target_reached(best, s.target_speedup):
            value, baseline = speedup(best)
            return f"target reached: {value:.2f}× {baseline} ≥ {s.target_speedup:g}×"
        if best is not None and not (self.ctx.device.timed and s.time_candidates):
            return "a correct kernel was found; nothing is timed here, so there is nothing to make faster"
        if s.refine_budget_s is not None and time.monotonic() - self.started >= s.refine_budget_s:
            return f"time budget of {s.refine_budget_s:g} s spent"
        if s.refine_tokens is not None and self.tokens >= s.refine_tokens:
            return f"token budget of {s.refine_tokens} spent"
        return None

    def _verdicts(self, rnd: _Round) -> list[CandidateResult]:
        """Wait for the round's verdicts, saying how the loop stands as each one arrives."""
        pending = set(rnd.futures.values())
        done_before = [r for r in self.results if r.passed]
        while pending:
            if self.ctx.cancel.cancelled:
                raise Cancelled()
            finished, pending = wait(pending, timeout=0.05, return_when=FIRST_COMPLETED)
            if finished:
                so_far = [f.result() for f in rnd.futures.values() if f.done()]
                correct = len(done_before) + sum(1 for r in so_far if r.passed)
                best = best_correct(self.results + so_far)
                self.ctx.progress(progress_line(rnd.number, self.rounds, correct, best), 0, 0)
        return [rnd.futures[i].result() for i in sorted(rnd.futures)]

    # ---- one round's sampling -------------------------------------------------------------------

    def _sample(self, rnd: _Round, prompt: str | None, messages: list[dict] | None) -> None:
        """Sample one round; each finished sample goes to the verifier at once. A budget that runs out
        mid-round stops the sampling (rnd.stop says so) and keeps the samples already handed over."""
        s, m, n = self.ctx.settings, self.m, self.n
        req = SampleRequest(prompt=prompt, messages=messages, n=n, temperature=m.temperature, top_p=m.top_p,
                            max_new_tokens=m.max_new_tokens, seed=self.seed + (rnd.number - 1) * n)
        cancel = CancelToken()  # this round's: the user's cancel, or a budget running out
        unlink = self.ctx.cancel.on_cancel(cancel.cancel)
        timer = None
        if self.rounds > 1 and s.refine_budget_s is not None:
            left = s.refine_budget_s - (time.monotonic() - self.started)

            def out_of_time() -> None:
                rnd.stop = rnd.stop or f"time budget of {s.refine_budget_s:g} s spent"
                cancel.cancel()

            timer = threading.Timer(max(0.0, left), out_of_time)
            timer.daemon = True
            timer.start()
        tag = f"round {rnd.number}/{self.rounds}: " if self.rounds > 1 else ""

        def on_progress(tokens: int, total: int) -> None:
            rnd.tokens = tokens
            self.ctx.progress(f"{tag}sampling {n} × ≤{m.max_new_tokens} tokens ({tokens} so far)", tokens, total)
            if self.rounds > 1 and s.refine_tokens is not None and self.tokens + tokens >= s.refine_tokens:
                rnd.stop = rnd.stop or f"token budget of {s.refine_tokens} spent"
                cancel.cancel()

        try:
            self.ctx.progress(f"{tag}sampling {n} from {self.choice.name or m.url}", 0, n * m.max_new_tokens)
            texts = self._run_model(req, cancel, on_progress, lambda seq, text: self._hand_over(rnd, seq, text))
            for seq, text in enumerate(texts):  # whatever the runtime did not hand over as it finished
                self._hand_over(rnd, seq, text)
        except Cancelled:
            if self.ctx.cancel.cancelled or rnd.stop is None:
                raise
        finally:
            if timer is not None:
                timer.cancel()
            unlink()
            self.tokens += rnd.tokens

    def _hand_over(self, rnd: _Round, seq: int, text: str) -> None:
        """Sample `seq` of the round is finished: parse it and hand it to the verifier now. A sample
        that cannot be parsed becomes a failed candidate like any other: it never stops the round."""
        if seq in rnd.candidates or seq >= self.n:
            return
        origin = f"llm:{self.name}"
        cid = f"{origin}/{rnd.first_index + seq}"
        try:
            cand = parse_model_output(text, origin, problem_name=self.problem.name, candidate_id=cid)
        except Exception as exc:  # the parser must not lose a sample, whatever the model wrote
            cand = Candidate(code=text, origin=origin, candidate_id=cid,
                             notes=[f"{PARSE_PREFIX}the output could not be read ({type(exc).__name__}: {exc})"])
        rnd.candidates[seq] = cand
        if self.ctx.emit is None:
            self.returned.append(cand)
        else:
            rnd.futures[seq] = self.ctx.emit([cand])[0]

    def _run_model(self, req: SampleRequest, cancel: CancelToken, on_progress, on_sample) -> list[str]:
        if self.choice.runtime == "openai":
            return self._sample_http(req, cancel, on_progress, on_sample)
        self.name = self.choice.name
        return self._sample_local(req, cancel, on_progress, on_sample)

    def _sample_http(self, req: SampleRequest, cancel: CancelToken, on_progress, on_sample) -> list[str]:
        from .runtimes.openai_http import OpenAIClient, OpenAIError

        try:
            if self._client is None:
                self._client = OpenAIClient.from_settings(self.m)
                self.name = self._client.model_id(cancel)
            return self._client.generate(req, cancel=cancel, on_progress=on_progress, on_text=self.ctx.on_text,
                                         on_sample=on_sample)
        except OpenAIError as e:
            raise RuntimeError(str(e)) from None

    def _sample_local(self, req: SampleRequest, cancel: CancelToken, on_progress, on_sample) -> list[str]:
        from .host_client import HostEvents, ModelHostError

        events = HostEvents(on_progress=on_progress, on_text=self.ctx.on_text, on_sample=on_sample,
                            on_status=lambda msg: self.ctx.progress(msg, 0, 0))
        try:
            result = self.ctx.model_host.generate(load_settings(self.m, self.choice.runtime), req.to_dict(),
                                                  idle_unload_s=self.m.idle_unload_s, cancel=cancel, events=events,
                                                  timeout_s=self.m.request_timeout_s)
        except ModelHostError as e:
            raise RuntimeError(f"model host: {e}") from None
        return result.texts
