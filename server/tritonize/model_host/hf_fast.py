"""The transformers runtime's fast sampling path (model host only; imports torch and transformers).

`generate()` in transformers runs its decode loop in Python, synchronises with the GPU after every
token and, for grouped-query attention with a static cache under `torch.compile`, copies every key
and value head `num_attention_heads / num_key_value_heads` times per layer per token. For 20 samples
of an 8B Llama that is about 20 ms per token. This module samples the n sequences itself:

* one prefill of the prompt (batch 1), its keys and values copied into all n rows of a `StaticCache`
  that is kept between requests of the same size, so the compiled step is reused;
* one compiled step, `torch.compile(mode="reduce-overhead")` (CUDA graphs): the model's forward for
  one token per row is one graph replay; the sampling after it (temperature, top-p, exponential-race
  draw) is a handful of eager kernels with no host synchronisation, so nothing on the CPU waits for
  the GPU between tokens. (Inside the graph, Inductor 2.11 fails to generate the cumulative sum over a
  128k vocabulary that top-p needs.)
* the host looks at the tokens only every `check_every` steps, to stop rows whose code block has
  closed, to report progress and to stop on cancel;
* attention for a single query token folds the query heads that share a key/value head into the
  query-length axis (`gqa_sdpa_attention`), so SDPA reads each key/value head once.

Only public torch and transformers APIs are used: `StaticCache`, `AttentionInterface` /
`AttentionMaskInterface.register`, `torch.compile`, `torch.nn.functional.scaled_dot_product_attention`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

ATTENTION_NAME = "tritonize_gqa_sdpa"


def gqa_sdpa_attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None,
                       is_causal=None, **kwargs):
    """SDPA that, for one query token, runs on the key/value heads without repeating them.

    query (B, Hq, 1, D), key/value (B, Hkv, S, D) with Hq = G·Hkv: query head h = j·G + g uses key/value
    head j (the layout `repeat_kv` assumes), so query reshapes to (B, Hkv, G, D): G "query positions"
    per key/value head, all with the same mask row. Everything else goes to transformers' SDPA.
    """
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    groups = getattr(module, "num_key_value_groups", 1)
    simple_mask = attention_mask is None or (attention_mask.dim() == 4 and attention_mask.shape[1] == 1
                                             and attention_mask.shape[2] == 1)
    if (groups == 1 or query.shape[2] != 1 or not simple_mask or kwargs.get("position_bias") is not None
            or kwargs.get("softcap") is not None or key.shape[1] * groups != query.shape[1]):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    b, hq, _, d = query.shape
    q = query.reshape(b, key.shape[1], groups, d)
    out = F.scaled_dot_product_attention(q, key, value, attn_mask=attention_mask,
                                         dropout_p=dropout if module.training else 0.0, scale=scaling)
    return out.reshape(b, hq, 1, value.shape[-1]).transpose(1, 2).contiguous(), None


def install_gqa_attention(model) -> bool:
    """Make `model` use `gqa_sdpa_attention` where it would use SDPA. False if it cannot (left as is)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    current = getattr(model.config, "_attn_implementation", None)
    if current not in ("sdpa", ATTENTION_NAME) or getattr(model.config, "num_key_value_heads", None) in (
            None, getattr(model.config, "num_attention_heads", None)):
        return current == ATTENTION_NAME
    AttentionInterface.register(ATTENTION_NAME, gqa_sdpa_attention)
    AttentionMaskInterface.register(ATTENTION_NAME, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])
    try:
        model.set_attn_implementation(ATTENTION_NAME)
    except Exception:  # older/newer transformers: the config attribute is what the layers read
        model.config._attn_implementation = ATTENTION_NAME
    return model.config._attn_implementation == ATTENTION_NAME


def sample_next(logits: torch.Tensor, temperature: torch.Tensor | None, top_p: torch.Tensor | None) -> torch.Tensor:
    """Next token per row from (n, V) logits: greedy when temperature is None; else temperature, then
    top-p (nucleus, keeping at least one token, as transformers' TopPLogitsWarper), then a draw by the
    exponential race (argmax of p / E, E ~ Exp(1)): the same distribution as multinomial, and nothing
    in it makes the host wait for the GPU."""
    if temperature is None:
        return logits.argmax(dim=-1)
    scores = logits.float() / temperature
    if top_p is not None:
        sorted_scores, order = torch.sort(scores, dim=-1)  # ascending
        cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
        drop = cumulative <= (1 - top_p)
        drop[:, -1] = False
        sorted_scores = sorted_scores.masked_fill(drop, float("-inf"))
        probs = sorted_scores.softmax(dim=-1)
        race = probs / torch.empty_like(probs).exponential_(1)
        return order.gather(-1, race.argmax(dim=-1, keepdim=True)).squeeze(-1)
    probs = scores.softmax(dim=-1)
    return (probs / torch.empty_like(probs).exponential_(1)).argmax(dim=-1)


class FastSampler:
    """n samples from one prompt with a static cache and a compiled decode step (see module doc)."""

    def __init__(self, model, *, compile_step: bool | None = None, check_every: int = 16) -> None:
        self.model = model
        self.device = model.device
        self.compile_step = (self.device.type == "cuda") if compile_step is None else compile_step
        self.check_every = check_every
        self.gqa = install_gqa_attention(model)
        self._key: tuple | None = None
        self._cache = None
        self._step = None
        self.compiled_shapes = 0  # how many (n, cache length) shapes have been compiled
        self.prefill = ""  # how the last prompt was run: "once" (copied to n rows) or "batched"

    def will_compile(self, n: int, cache_len: int) -> bool:
        """True if sampling n rows with this cache length starts with a compile (tens of seconds)."""
        return self.compile_step and (n, cache_len) != self._key

    def _prepare(self, n: int, cache_len: int):
        from transformers import StaticCache

        key = (n, cache_len)
        if key != self._key:
            self._cache = None
            self._step = None
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            self._cache = StaticCache(config=self.model.config, max_cache_len=cache_len)
            model, cache = self.model, self._cache

            def step(tokens: torch.Tensor) -> torch.Tensor:
                return model(input_ids=tokens, past_key_values=cache, use_cache=True, logits_to_keep=1).logits[:, -1]

            self._step = torch.compile(step, mode="reduce-overhead", fullgraph=True, dynamic=False) \
                if self.compile_step else step
            self._key = key
            self.compiled_shapes += 1
        else:
            self._cache.reset()
        return self._cache, self._step

    def _prefill(self, ids: torch.Tensor, n: int, cache) -> torch.Tensor:
        """Runs the prompt once (batch 1) and copies its keys and values into all n rows of the static
        cache through `Cache.update`; n times less prefill work than a batch of n identical prompts.
        Returns the last position's logits, (n, V). Falls back to the batched prefill if this
        transformers' caches look different."""
        from transformers import DynamicCache

        if ids.shape[0] == 1 and n > 1:
            try:
                once = DynamicCache(config=self.model.config)
                logits = self.model(input_ids=ids, past_key_values=once, use_cache=True, logits_to_keep=1).logits
                for layer_idx, layer in enumerate(once.layers):
                    cache.update(layer.keys.expand(n, -1, -1, -1), layer.values.expand(n, -1, -1, -1), layer_idx)
                self.prefill = "once"
                return logits[:, -1].expand(n, -1)
            except (AttributeError, TypeError, ValueError, IndexError):
                cache.reset()
        self.prefill = "batched"
        logits = self.model(input_ids=ids.expand(n, -1).contiguous(), past_key_values=cache, use_cache=True,
                            logits_to_keep=1).logits
        return logits[:, -1]

    def sample(self, ids: torch.Tensor, n: int, *, max_new_tokens: int, cache_len: int, temperature: float,
               top_p: float, check: Callable[[torch.Tensor], bool]) -> torch.Tensor:
        """Returns (n, T) sampled tokens, T ≤ max_new_tokens. `check(tokens so far)` is called every
        `check_every` tokens and at the end; it returns True to stop (every row done, or cancelled)."""
        with torch.inference_mode():
            return self._sample(ids, n, max_new_tokens, cache_len, temperature, top_p, check)

    def _sample(self, ids, n, max_new_tokens, cache_len, temperature, top_p, check) -> torch.Tensor:
        greedy = temperature <= 0
        use_top_p = not greedy and top_p < 1.0
        cache, step = self._prepare(n, cache_len)
        temp_t = None if greedy else torch.tensor(float(temperature), device=self.device)
        top_p_t = torch.tensor(float(top_p), device=self.device) if use_top_p else None
        out = torch.empty(n, max_new_tokens, dtype=torch.long, device=self.device)
        out[:, 0] = sample_next(self._prefill(ids, n, cache), temp_t, top_p_t)
        current = out[:, :1].clone()  # the step's input buffer: a plain tensor, not a graph output
        for i in range(1, max_new_tokens):
            if i % self.check_every == 0 and check(out[:, :i]):
                return out[:, :i]
            if self.compile_step:
                torch.compiler.cudagraph_mark_step_begin()
            # The graph's logits are read (by the eager sampling) before the next replay overwrites them:
            # all of it is queued on one stream, and nothing here waits for the GPU.
            nxt = sample_next(step(current), temp_t, top_p_t)
            out[:, i] = nxt
            current.copy_(nxt.view(n, 1))
        check(out)
        return out
