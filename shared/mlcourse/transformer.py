"""A small causal Transformer language model (nanoGPT-style), a training loop and a pretrained
checkpoint.

The model maps token ids y_1 ... y_T to logits of shape (B, T, |V|); position t's row is
Pr_theta(y_{t+1} | y_<=t) before the softmax, and a causal mask keeps position t from looking at
any later token:

    h_0 = E[y_t] + P[t]                                     token + position embeddings
    h_l = h' + MLP(LN(h')),  h' = h_{l-1} + Attn(LN(h_{l-1}))   pre-LayerNorm blocks
    logits_t = W LN(h_L)_t                                  W = E (tied) unless config.tied=False

`train` is a plain loop of AdamW steps on whatever loss the caller passes in: the lessons plug in
their own (joint, conditional, masked) log-likelihood, which is why none is defined here.

Pretrained checkpoint (`load_pretrained()`, file `mlcourse/data/pretrained.pt`, 0.46 MB): the
default configuration (115 tokens, 64 positions, d_model 64, 4 heads, 2 layers, tied; 111,552
parameters) after 3000 AdamW steps (batch 32, lr 3e-3, weight decay 0.1, seed 0) of the joint
next-token objective on `World(seed=0).statements_train`. Held-out loss 1.1215 per token on
`statements_heldout` (also in `load_pretrained().info`). Re-create it, bit for bit, with
`.venv/bin/python scripts/make_checkpoint.py` (about 40 s on one thread). No network is ever used.

These models are so small that one thread is fastest: `torch.set_num_threads(1)` is up to 4x faster
than two on a busy 2-core machine.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from mlcourse.models import _check_prefixes
from mlcourse.vocab import Vocab

Item = TypeVar("Item")
PRETRAINED = "pretrained.pt"


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes of a TransformerLM; the defaults train in seconds on a CPU."""

    vocab_size: int
    context_length: int = 64  # the longest input, in tokens
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    tied: bool = True  # the output head reuses the token embedding matrix

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context_length", "d_model", "n_heads", "n_layers"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"TransformerConfig.{name} must be a positive integer, "
                                 f"got {getattr(self, name)!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be a multiple of n_heads={self.n_heads}")


class CausalSelfAttention(nn.Module):
    """softmax(Q K^T / sqrt(d_head) + causal mask) V, for n_heads heads in parallel."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # 3 x (B, T, C)
        q, k, v = (z.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2)
                   for z in (q, k, v))  # (B, H, T, C/H)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, C/H)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)


class Block(nn.Module):
    """x + Attn(LN(x)), then x + MLP(LN(x)) with MLP(x) = W_2 GELU(W_1 x)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        d = config.d_model
        self.ln_1, self.attn = nn.LayerNorm(d), CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class TransformerLM(nn.Module):
    """A causal Transformer over `vocab`; `forward(ids)[:, t]` are the logits of token t+1 given
    ids[:, :t+1]."""

    def __init__(self, vocab: Vocab, config: TransformerConfig | None = None) -> None:
        super().__init__()
        config = config or TransformerConfig(vocab_size=len(vocab))
        if config.vocab_size != len(vocab):
            raise ValueError(f"config.vocab_size={config.vocab_size} "
                             f"but the vocabulary has {len(vocab)} tokens")
        self.vocab, self.config = vocab, config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.context_length, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.apply(_init_weights)
        if config.tied:
            self.head.weight = self.tok_emb.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V) for token ids (B, T)."""
        B, T = _check_ids(ids, self.config)
        positions = torch.arange(T, device=ids.device)
        x = self.tok_emb(ids) + self.pos_emb(positions)  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))  # (B, T, V)

    @torch.no_grad()
    def next_log_probs(self, prefixes: Sequence[Sequence[int]]) -> np.ndarray:
        """log Pr_theta(. | prefix) for each prefix (each starting with `<s>`): shape (B, |V|),
        float64."""
        _check_prefixes(self.vocab, prefixes)
        # (B, T); right padding is invisible to earlier positions
        ids = torch.from_numpy(self.vocab.pad(prefixes))
        logits = self(ids)  # (B, T, V)
        last = logits[torch.arange(len(prefixes)),
                      torch.tensor([len(p) - 1 for p in prefixes])]  # (B, V)
        return torch.log_softmax(last.double(), dim=-1).numpy()


def _init_weights(module: nn.Module) -> None:
    """N(0, 0.02) weights and zero biases, as in GPT-2."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def _check_ids(ids: torch.Tensor, config: TransformerConfig) -> tuple[int, int]:
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.dtype != torch.long:
        got = (f"{ids.dtype} tensor of shape {tuple(ids.shape)}" if isinstance(ids, torch.Tensor)
               else type(ids).__name__)
        raise ValueError(f"the model takes token ids as a (B, T) LongTensor, got {got}")
    B, T = ids.shape
    if not 1 <= T <= config.context_length:
        raise ValueError(f"{T} tokens: the model reads 1 to "
                         f"context_length={config.context_length} tokens at a time")
    if ids.min() < 0 or ids.max() >= config.vocab_size:
        raise ValueError(f"token ids run from 0 to {config.vocab_size - 1}, "
                         f"got {int(ids.min())}..{int(ids.max())}")
    return B, T


# --- training -------------------------------------------------------------------------------------

def minibatches(items: Sequence[Item], batch_size: int, *, seed: int = 0) -> Iterator[list[Item]]:
    """Endless minibatches of `items`: each pass visits every item once, in a fresh seeded order."""
    if not items or batch_size < 1:
        raise ValueError(f"need at least one item and batch_size >= 1, "
                         f"got {len(items)} items, batch_size={batch_size}")
    rng = random.Random(seed)
    order: list[int] = []
    while True:
        if len(order) < batch_size:
            order += rng.sample(range(len(items)), len(items))
        yield [items[i] for i in order[:batch_size]]
        order = order[batch_size:]


def train(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, Any], torch.Tensor],
    batches: Iterable[Any],
    steps: int,
    lr: float = 1e-3,
    *,
    weight_decay: float = 0.0,
    max_grad_norm: float | None = 1.0,
    progress: bool = True,
    after_step: Callable[[int], Any] | None = None,
) -> list[float]:
    """Take `steps` AdamW steps on loss_fn(model, batch), batches in turn; return the losses.

    `batches` is an iterable (a list is cycled through; an iterator must last `steps` batches).
    `after_step(n)`, when given, runs after the n-th step (n = 1, 2, ...), e.g. to record a
    held-out score every few steps for a learning curve.
    Deterministic given torch.manual_seed before the model was built.
    """
    batches = itertools.cycle(batches) if isinstance(batches, Sequence) else iter(batches)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()
    losses = []
    bar = tqdm(range(steps), desc="training", disable=not progress, leave=False)
    for step in bar:
        batch = next(batches, None)
        if batch is None:
            raise ValueError(f"`batches` ran out after {step} batches; {steps} steps need {steps}")
        loss = loss_fn(model, batch)
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0 or not loss.requires_grad:
            raise ValueError("loss_fn must return a scalar tensor that depends on the model, "
                             f"got {loss!r:.80}")
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"the loss is {loss.item()} at step {step}: "
                                     f"a log of 0 somewhere, or lr={lr} too high?")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if max_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
        if after_step is not None:
            after_step(step + 1)
    model.eval()
    return losses


# --- checkpoints ----------------------------------------------------------------------------------

def save_checkpoint(model: TransformerLM, path: str | Path, **info: Any) -> None:
    """Write the config, the vocabulary's tokens, the weights and any `info` (numbers, strings) to
    `path`."""
    torch.save(
        {"config": asdict(model.config), "tokens": model.vocab.itos, "level": model.vocab.level,
         "state_dict": model.state_dict(), "info": info},
        path,
    )


def load_checkpoint(path: str | Path, vocab: Vocab | None = None) -> TransformerLM:
    """The TransformerLM saved at `path` (its `info` as `model.info`); with `vocab`, check it is
    the checkpoint's."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    tokens, config = saved["tokens"], TransformerConfig(**saved["config"])
    if vocab is not None and vocab.itos != tokens:
        raise ValueError(f"vocabulary mismatch with the checkpoint {path}: "
                         f"{_first_difference(vocab.itos, tokens)}")
    model = TransformerLM(Vocab(tokens[3:], saved["level"]) if vocab is None else vocab, config)
    load_weights(model, saved["state_dict"])
    model.info = saved.get("info", {})
    model.eval()
    return model


def load_pretrained(vocab: Vocab | None = None) -> TransformerLM:
    """The committed checkpoint pretrained on `World(seed=0)`'s statements (see the module
    docstring)."""
    with resources.as_file(resources.files("mlcourse") / "data" / PRETRAINED) as path:
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: "
                                    "re-create it with `python scripts/make_checkpoint.py`")
        return load_checkpoint(path, vocab)


def load_weights(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> None:
    """model.load_state_dict(state_dict), with an error that names each missing, extra or
    mis-shaped tensor."""
    own = model.state_dict()
    problems = [f"missing {name}" for name in own if name not in state_dict]
    problems += [f"unexpected {name}" for name in state_dict if name not in own]
    problems += [
        f"{name} has shape {tuple(state_dict[name].shape)}, the model expects {tuple(tensor.shape)}"
        for name, tensor in own.items()
        if name in state_dict and state_dict[name].shape != tensor.shape
    ]
    if problems:
        raise ValueError("the weights do not fit this model's config: " + "; ".join(problems[:5]))
    model.load_state_dict(state_dict)


def _first_difference(ours: list[str], theirs: list[str]) -> str:
    if len(ours) != len(theirs):
        return f"the given vocabulary has {len(ours)} tokens, the checkpoint's has {len(theirs)}"
    i = next(i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b)
    return (f"token id {i} is {ours[i]!r} in the given vocabulary "
            f"but {theirs[i]!r} in the checkpoint's")
