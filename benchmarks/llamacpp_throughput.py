"""Sampling throughput of the llama.cpp runtime: the same job as llm_throughput.py (20 samples × 512
new tokens, ~1.2k-token prompt, Llama-3.1-8B shape, random weights, temperature 1.0, top-p 0.97),
through `runtimes/llamacpp.py` with every layer on the GPU.

The GGUF is written here with the `gguf` package: random f16 weights (one random array per tensor
shape, shared by the tensors of that shape: the speed does not depend on the values) and a byte-level
BPE vocabulary of the model's size (256 single-byte tokens, then filler tokens). llama.cpp samples one
sequence at a time, so samples run one after another (the prompt is evaluated once and reused);
`--time-budget` stops after that many seconds and the total is extrapolated from the samples done.

    python benchmarks/llamacpp_throughput.py                  # GPU build of llama-cpp-python
    python benchmarks/llamacpp_throughput.py --tiny           # CPU smoke run with a small model
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "server"))
sys.path.insert(0, HERE)

from llm_throughput import LLAMA_8B, TINY  # noqa: E402  (the same two shapes)


def byte_tokens() -> list[str]:
    """GPT-2's byte-to-unicode table: the 256 single-byte tokens of a byte-level BPE vocabulary."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, n = keep[:], 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + n)
            n += 1
    table = dict(zip(keep, chars, strict=True))
    return [chr(table[b]) for b in range(256)]


def write_gguf(path: str, shape: dict, seed: int = 0) -> None:
    import gguf
    import numpy as np

    rng = np.random.default_rng(seed)
    hidden, layers, heads, kv = shape["hidden_size"], shape["num_hidden_layers"], shape["num_attention_heads"], shape["num_key_value_heads"]
    ffn, vocab = shape["intermediate_size"], shape["vocab_size"]
    head_dim = hidden // heads
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("random-llama")
    w.add_context_length(shape["max_position_embeddings"])
    w.add_embedding_length(hidden)
    w.add_block_count(layers)
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(float(shape["rope_theta"]))
    w.add_layer_norm_rms_eps(shape["rms_norm_eps"])
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    tokens = byte_tokens() + [f"tok{i}" for i in range(vocab - 256 - 3)] + ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]
    types = [gguf.TokenType.NORMAL] * (vocab - 3) + [gguf.TokenType.CONTROL] * 3
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(["t o"])
    w.add_bos_token_id(vocab - 3)
    w.add_eos_token_id(vocab - 1)
    w.add_add_bos_token(True)

    arrays: dict[tuple, object] = {}

    def put(name: str, *dims: int, ones: bool = False) -> None:
        key = (dims, ones)
        if key not in arrays:
            arrays[key] = (np.ones(dims, np.float32) if ones
                           else (rng.standard_normal(dims, dtype=np.float32) * 0.02).astype(np.float16))
        w.add_tensor(name, arrays[key])

    put("token_embd.weight", vocab, hidden)
    put("output_norm.weight", hidden, ones=True)
    put("output.weight", vocab, hidden)
    for i in range(layers):
        put(f"blk.{i}.attn_norm.weight", hidden, ones=True)
        put(f"blk.{i}.attn_q.weight", heads * head_dim, hidden)
        put(f"blk.{i}.attn_k.weight", kv * head_dim, hidden)
        put(f"blk.{i}.attn_v.weight", kv * head_dim, hidden)
        put(f"blk.{i}.attn_output.weight", hidden, heads * head_dim)
        put(f"blk.{i}.ffn_norm.weight", hidden, ones=True)
        put(f"blk.{i}.ffn_gate.weight", ffn, hidden)
        put(f"blk.{i}.ffn_up.weight", ffn, hidden)
        put(f"blk.{i}.ffn_down.weight", hidden, ffn)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="small model on the CPU (smoke run)")
    ap.add_argument("--samples", type=int)
    ap.add_argument("--new-tokens", type=int)
    ap.add_argument("--prompt-tokens", type=int)
    ap.add_argument("--gguf", help="write the model here (default: a temporary file, removed afterwards)")
    ap.add_argument("--time-budget", type=float, default=0, help="stop sampling after this many seconds; extrapolate")
    ap.add_argument("--json", dest="json_out", help="write the results to this file")
    args = ap.parse_args()

    import llama_cpp
    from tritonize.generate.runtimes import SampleRequest
    from tritonize.model_host.llamacpp import LlamaCppRuntime

    gpu = llama_cpp.llama_supports_gpu_offload()
    if not args.tiny and not gpu:
        print("this llama-cpp-python has no GPU offload: use --tiny for a CPU smoke run", file=sys.stderr)
        return 2
    shape = TINY if args.tiny else LLAMA_8B
    samples = args.samples or (3 if args.tiny else 20)
    new_tokens = args.new_tokens or (32 if args.tiny else 512)
    prompt_tokens = args.prompt_tokens or (200 if args.tiny else 1200)
    path = args.gguf or os.path.join(tempfile.mkdtemp(prefix="tritonize-llamacpp-"), "random-llama.gguf")
    t0 = time.perf_counter()
    write_gguf(path, shape)
    write_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    runtime = LlamaCppRuntime(path, gpu_layers=0 if args.tiny else -1, n_ctx=prompt_tokens + new_tokens + 64)
    load_s = time.perf_counter() - t0
    import random

    rnd = random.Random(0)
    letters = "abcdefghijklmnopqrstuvwxyz"
    prompt = "".join(rnd.choice(letters) if i % 6 else " " for i in range(prompt_tokens)).strip()
    n_prompt = len(runtime.prompt_tokens(SampleRequest(prompt=prompt, messages=None, n=1, temperature=1.0, top_p=0.97,
                                                       max_new_tokens=1, seed=0)))
    print(f"model: Llama {shape['num_hidden_layers']}L/{shape['hidden_size']}h f16 GGUF "
          f"({os.path.getsize(path) / 2**30:.1f} GiB, written in {write_s:.1f}s, loaded in {load_s:.1f}s, "
          f"GPU offload: {gpu}); {samples} samples × {new_tokens} tokens, prompt {n_prompt} tokens")
    times: list[float] = []
    counts: list[int] = []
    start = time.perf_counter()
    for i in range(samples):
        tokens = {"n": 0}

        def emit(ev: dict, tokens=tokens) -> None:
            if ev["type"] == "progress":
                tokens["n"] = ev["tokens"]

        req = SampleRequest(prompt=prompt, messages=None, n=1, temperature=1.0, top_p=0.97, max_new_tokens=new_tokens,
                            seed=i, stop_at_block_end=False)
        t = time.perf_counter()
        runtime.generate(req, emit, threading.Event())
        times.append(time.perf_counter() - t)
        counts.append(tokens["n"])
        print(f"  sample {i + 1}: {counts[-1]} tokens in {times[-1]:.2f}s")
        if args.time_budget and time.perf_counter() - start > args.time_budget:
            break
    done = len(times)
    # The first sample also evaluates the prompt; the others reuse it.
    later = times[1:] or times
    total = times[0] + sum(later) / len(later) * (samples - 1) if done < samples else sum(times)
    tok_s = sum(counts) / sum(times)
    print(f"llama.cpp: {total:.1f}s for {samples} × {new_tokens}" + (f" (extrapolated from {done} samples)" if done < samples else "")
          + f"; {tok_s:.0f} tokens/s while sampling; first sample {times[0]:.2f}s (includes the prompt)")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"runtime": "llama_cpp", "llama_cpp_python": llama_cpp.__version__, "gpu_offload": gpu,
                       "samples": samples, "new_tokens": new_tokens, "prompt_tokens": n_prompt,
                       "seconds": total, "measured_samples": done, "sample_seconds": times, "sample_tokens": counts,
                       "write_seconds": write_s, "load_seconds": load_s}, f, indent=2)
    runtime.close()
    if not args.gguf:
        os.remove(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
