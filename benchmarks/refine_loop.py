"""The refinement loop on one GPU: how soon a sample's verdict arrives and how long the GPU sits idle.

Goals (issue 18): the first verdict ≤ 3 s after the first sample is handed to the verifier; a 4-round
loop of 20 × 512 tokens spends ≤ 10% of its wall time with the GPU idle (generation in the model host
and verification in the verify worker share the GPU).

How it measures:
- every progress event of `pipeline.convert` is time-stamped (first token, first verdict); a verdict's
  latency is its CandidateResult.seconds (from the moment the pool took the candidate, i.e. right
  after its code block closed, to its verdict);
- `nvidia-smi --query-gpu=utilization.gpu -lms 100` samples the GPU's busy share every 100 ms while the
  loop runs; idle share = samples at 0% / all samples between the first and the last token.

    python benchmarks/refine_loop.py --build-random /data/llama8b-random    # once: 8B-shaped random weights (~16 GB)
    python benchmarks/refine_loop.py --model /data/llama8b-random           # the loop: 4 rounds × 20 × 512
    python benchmarks/refine_loop.py --model ~/models/KernelLLM             # the same with KernelLLM itself

Random weights write no code, so every sample is a parse failure verified in no time: that run measures
the loop's own overhead between rounds (the GPU idles while the next prompt is built and its prefill
starts). KernelLLM's samples are real kernels, verified on the GPU while the model writes: that run
measures sharing. Prints a JSON summary (--json OUT saves it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "server"))


def build_random(out_dir: str) -> None:
    """Save the Llama-3.1-8B-shaped random-weight model of llm_throughput.py as a checkpoint directory."""
    import torch

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from llm_throughput import LLAMA_8B, build_model, word_tokenizer

    model = build_model(LLAMA_8B, "cuda" if torch.cuda.is_available() else "cpu", torch.bfloat16)
    model.save_pretrained(out_dir)
    word_tokenizer(LLAMA_8B["vocab_size"]).save_pretrained(out_dir)
    print(f"wrote {out_dir}")


class GpuSampler:
    """GPU utilisation every 100 ms from nvidia-smi (none on a machine without it)."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, int]] = []
        self.proc = None
        if shutil.which("nvidia-smi"):
            self.proc = subprocess.Popen(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                                          "-lms", "100", "-i", "0"], stdout=subprocess.PIPE, text=True)
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.strip().isdigit():
                self.samples.append((time.monotonic(), int(line.strip())))

    def idle_share(self, start: float, end: float) -> float | None:
        window = [u for t, u in self.samples if start <= t <= end]
        return sum(1 for u in window if u == 0) / len(window) if window else None

    def close(self) -> None:
        if self.proc is not None:
            self.proc.terminate()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-random", metavar="DIR", help="save the 8B-shaped random-weight checkpoint to DIR and exit")
    ap.add_argument("--model", help="transformers checkpoint directory")
    ap.add_argument("--problem", default=os.path.join(ROOT, "tests", "verify_cases", "relu_problem.py"))
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--new-tokens", type=int, default=512)
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args()
    if args.build_random:
        build_random(args.build_random)
        return 0
    if not args.model:
        ap.error("--model or --build-random is required")

    from tritonize.cancel import ProgressEvent
    from tritonize.generate.host_client import ModelHost
    from tritonize.pipeline import convert
    from tritonize.settings import Settings
    from tritonize.target import load_file
    from tritonize.verify.pool import WorkerPool

    settings, problems = Settings.from_dict({
        "generators": ["llm"], "n": args.n, "rounds": args.rounds, "useCache": False,
        "model": {"path": args.model, "maxNewTokens": args.new_tokens, "seed": 0}})
    assert not problems, problems
    problem, _ = load_file(args.problem, None, settings)
    events: list[tuple[float, ProgressEvent]] = []
    pool, host, gpu = WorkerPool(settings), ModelHost(), GpuSampler()
    try:
        started = time.monotonic()
        report = convert(problem, settings, progress=lambda ev: events.append((time.monotonic(), ev)),
                         pool=pool, model_host=host)
        ended = time.monotonic()
    finally:
        gpu.close()
        pool.close()
        host.close()
    tokens = [t for t, ev in events if ev.stage == "generate" and "so far" in ev.message]
    verdicts = [t for t, ev in events if ev.stage == "verify" and ev.done]
    summary = {
        "model": args.model, "device": report.device, "rounds": [r.__dict__ for r in report.rounds],
        "wall_s": ended - started,
        "first_token_s": tokens[0] - started if tokens else None,
        "first_verdict_s": verdicts[0] - started if verdicts else None,
        "verdict_latency_s": {"max": max((r.seconds for r in report.results), default=None),
                              "median": sorted(r.seconds for r in report.results)[len(report.results) // 2]
                              if report.results else None},
        "gpu_idle_share": gpu.idle_share(tokens[0], ended) if tokens else None,
        "gpu_samples": len(gpu.samples),
        "candidates": len(report.results), "correct": len(report.passed()),
    }
    print(json.dumps(summary, indent=1))
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(summary, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
