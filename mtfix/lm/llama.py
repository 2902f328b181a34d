"""A compact forward pass for Llama-family causal LMs (SmolLM2, Llama, Mistral, Qwen2).

Written here rather than taken from transformers for two reasons: importing transformers costs
seconds at every start, and scoring candidate restorations needs one operation transformers makes
awkward: extending *many* rows at once, each from its own prefix of a shared, already-encoded
sentence (one KV cache, per-row prefix lengths). Weights use the Hugging Face layout and names.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

SUPPORTED_TYPES = ("llama", "mistral", "qwen2")


@dataclass(frozen=True)
class LlamaConfig:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rms_norm_eps: float
    rope_theta: float
    attention_bias: bool = False
    tie_word_embeddings: bool = True

    @classmethod
    def from_hf(cls, cfg: dict) -> "LlamaConfig":
        if cfg.get("model_type") not in SUPPORTED_TYPES:
            raise ValueError(f"model type {cfg.get('model_type')!r} is not Llama-like")
        rope = cfg.get("rope_parameters") or {}
        scaling = cfg.get("rope_scaling") or {}
        if (
            rope.get("rope_type") or scaling.get("rope_type") or "default"
        ) != "default":
            raise ValueError("scaled RoPE is not supported by the fast path")
        heads = cfg["num_attention_heads"]
        return cls(
            vocab_size=cfg["vocab_size"],
            hidden_size=cfg["hidden_size"],
            intermediate_size=cfg["intermediate_size"],
            num_hidden_layers=cfg["num_hidden_layers"],
            num_attention_heads=heads,
            num_key_value_heads=cfg.get("num_key_value_heads") or heads,
            head_dim=cfg.get("head_dim") or cfg["hidden_size"] // heads,
            rms_norm_eps=float(cfg.get("rms_norm_eps", 1e-5)),
            rope_theta=float(
                rope.get("rope_theta") or cfg.get("rope_theta") or 10000.0
            ),
            attention_bias=bool(
                cfg.get("attention_bias", cfg.get("model_type") == "qwen2")
            ),
            tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        )


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float, device=None):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim, device=device))
        self.eps = eps

    def forward(self, x):
        return self.weight * (
            x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        )


def _rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: LlamaConfig, device=None):
        super().__init__()
        h, kv, d = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.heads, self.kv_heads, self.head_dim = h, kv, d
        self.q_proj = nn.Linear(
            cfg.hidden_size, h * d, bias=cfg.attention_bias, device=device
        )
        self.k_proj = nn.Linear(
            cfg.hidden_size, kv * d, bias=cfg.attention_bias, device=device
        )
        self.v_proj = nn.Linear(
            cfg.hidden_size, kv * d, bias=cfg.attention_bias, device=device
        )
        self.o_proj = nn.Linear(h * d, cfg.hidden_size, bias=False, device=device)

    def forward(self, x, cos, sin, mask, past_k=None, past_v=None):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + _rotate_half(q) * sin
        k = k * cos + _rotate_half(k) * sin
        new_k, new_v = k, v
        if past_k is not None:
            k = torch.cat((past_k, k), dim=2)
            v = torch.cat((past_v, v), dim=2)
        gqa = self.heads != self.kv_heads
        if gqa and torch.jit.is_tracing():
            # Traced graphs (the ONNX export in bench/quantize_lm.py) cannot hold `enable_gqa`.
            k = k.repeat_interleave(self.heads // self.kv_heads, dim=1)
            v = v.repeat_interleave(self.heads // self.kv_heads, dim=1)
            gqa = False
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=gqa)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1)), new_k, new_v


class MLP(nn.Module):
    def __init__(self, cfg: LlamaConfig, device=None):
        super().__init__()
        self.gate_proj = nn.Linear(
            cfg.hidden_size, cfg.intermediate_size, bias=False, device=device
        )
        self.up_proj = nn.Linear(
            cfg.hidden_size, cfg.intermediate_size, bias=False, device=device
        )
        self.down_proj = nn.Linear(
            cfg.intermediate_size, cfg.hidden_size, bias=False, device=device
        )

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, cfg: LlamaConfig, device=None):
        super().__init__()
        self.self_attn = Attention(cfg, device)
        self.mlp = MLP(cfg, device)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps, device)
        self.post_attention_layernorm = RMSNorm(
            cfg.hidden_size, cfg.rms_norm_eps, device
        )

    def forward(self, x, cos, sin, mask, past_k=None, past_v=None):
        a, k, v = self.self_attn(
            self.input_layernorm(x), cos, sin, mask, past_k, past_v
        )
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), k, v


class Trunk(nn.Module):
    def __init__(self, cfg: LlamaConfig, device=None):
        super().__init__()
        # An explicit tensor skips the random init, which on "meta" imports torch._dynamo (3 s).
        weight = torch.empty(cfg.vocab_size, cfg.hidden_size, device=device)
        self.embed_tokens = nn.Embedding(
            cfg.vocab_size, cfg.hidden_size, _weight=weight
        )
        self.layers = nn.ModuleList(
            Layer(cfg, device) for _ in range(cfg.num_hidden_layers)
        )
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps, device)


class LlamaLM(nn.Module):
    """Two operations: `encode` a right-padded batch of token rows, and `extend` rows from
    per-row prefixes of encoded rows. Both return final hidden states; `log_probs` maps them
    to token log-probabilities."""

    def __init__(self, cfg: LlamaConfig, device=None):
        """device="meta" builds the shapes only, for `load_state_dict(..., assign=True)`."""
        super().__init__()
        self.cfg = cfg
        self.model = Trunk(cfg, device)
        self.lm_head = (
            None
            if cfg.tie_word_embeddings
            else nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False, device=device)
        )
        self.register_buffer("inv_freq", self.rope_frequencies(), persistent=False)

    def rope_frequencies(self, device=None) -> torch.Tensor:
        d = self.cfg.head_dim
        return 1.0 / (
            self.cfg.rope_theta
            ** (torch.arange(0, d, 2, dtype=torch.float32, device=device) / d)
        )

    def _rope(self, positions):
        freqs = positions[..., None].float() * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)[:, None]  # (B, 1, T, d)
        return emb.cos(), emb.sin()

    @property
    def output_weight(self):
        return (
            self.model.embed_tokens.weight
            if self.lm_head is None
            else self.lm_head.weight
        )

    def encode(self, ids: torch.Tensor):
        """Causal pass over (B, T) ids. Returns hidden (B, T, D) and per-layer (K, V).

        Rows are right-padded; padding only follows real tokens, so it never affects them.
        """
        b, t = ids.shape
        positions = torch.arange(t, device=ids.device).expand(b, t)
        cos, sin = self._rope(positions)
        mask = torch.ones(t, t, dtype=torch.bool, device=ids.device).tril()
        x = self.model.embed_tokens(ids)
        cache = []
        for layer in self.model.layers:
            x, k, v = layer(x, cos, sin, mask)
            cache.append((k, v))
        return self.model.norm(x), cache

    def extend(
        self,
        cache,
        rows: torch.Tensor,
        ids: torch.Tensor,
        positions: torch.Tensor,
        attend: torch.Tensor,
    ):
        """Continue encoded rows with new tokens, several independent continuations packed
        into one row. Row r continues cache row `rows[r]` (rows may repeat) with ids[r] at
        `positions[r]`; `attend[r]` (S, P + S) says which cached positions (the first P) and
        which new tokens each new token sees. Returns hidden (R, S, D)."""
        p = attend.shape[-1] - ids.shape[1]
        cos, sin = self._rope(positions)
        mask = attend[:, None]
        x = self.model.embed_tokens(ids)
        same = rows.numel() == cache[0][0].shape[0] and bool(
            (rows == torch.arange(rows.numel(), device=rows.device)).all()
        )
        for layer, (k, v) in zip(self.model.layers, cache):
            pk, pv = (
                (k[:, :, :p], v[:, :, :p]) if same else (k[rows, :, :p], v[rows, :, :p])
            )
            x, _, _ = layer(x, cos, sin, mask, pk, pv)
        return self.model.norm(x)

    def extend_many(self, cache, items, pack: int = 48, max_rows: int = 64):
        """Hidden states of many continuations: items are (cache row, prefix length, token ids).

        Continuations of one cache row are packed into shared rows of up to `pack` tokens,
        each seeing its own prefix and itself only, so the prefix cache is read in place
        rather than copied per continuation. Returns one (len(ids), D) tensor per item.
        """
        groups: list[tuple[int, list[int]]] = []  # (cache row, item indices)
        by_row: dict[int, list[int]] = {}
        for i, (row, _, ids) in enumerate(items):
            by_row.setdefault(row, []).append(i)
        for row, members in by_row.items():
            members.sort(key=lambda i: len(items[i][2]))
            current, used = [], 0
            for i in members:
                n = len(items[i][2])
                if current and used + n > pack:
                    groups.append((row, current))
                    current, used = [], 0
                current.append(i)
                used += n
            groups.append((row, current))
        groups.sort(key=lambda g: sum(len(items[i][2]) for i in g[1]))
        out: list = [None] * len(items)
        p = cache[0][0].shape[2]
        device = cache[0][0].device
        for a in range(0, len(groups), max_rows):
            chunk = groups[a : a + max_rows]
            width = max(sum(len(items[i][2]) for i in g) for _, g in chunk)
            r = len(chunk)
            ids = torch.zeros((r, width), dtype=torch.long)
            positions = torch.zeros((r, width), dtype=torch.long)
            attend = torch.zeros((r, width, p + width), dtype=torch.bool)
            spans = []
            for n, (row, members) in enumerate(chunk):
                at = 0
                for i in members:
                    _, plen, tok = items[i]
                    k = len(tok)
                    ids[n, at : at + k] = torch.tensor(tok)
                    positions[n, at : at + k] = torch.arange(plen, plen + k)
                    attend[n, at : at + k, :plen] = True
                    attend[n, at : at + k, p + at : p + at + k] = torch.ones(
                        k, k, dtype=torch.bool
                    ).tril()
                    spans.append((i, n, at, k))
                    at += k
                attend[n, at:, 0] = (
                    True  # padding sees something, so softmax stays finite
                )
            rows = torch.tensor([row for row, _ in chunk], device=device)
            hidden = self.extend(
                cache, rows, ids.to(device), positions.to(device), attend.to(device)
            )
            for i, n, at, k in spans:
                out[i] = hidden[n, at : at + k]
        return out

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden @ self.output_weight.T

    def token_logits(
        self, hidden: torch.Tensor, token_ids: torch.Tensor
    ) -> torch.Tensor:
        """Unnormalised scores of chosen tokens: hidden (N, D), token_ids (N, K) -> (N, K).
        Differences between tokens at one position need no softmax over the vocabulary.
        """
        return torch.einsum("rd,rkd->rk", hidden, self.output_weight[token_ids])
