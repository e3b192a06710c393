"""mlcourse: the library behind the course "Maximum-likelihood training of language models".

Infrastructure only (see shared/README.md for what it deliberately leaves to the exercises):

    mlcourse.vocab        tokens <-> ids, with <s>, <eos> and <pad>
    mlcourse.models       the sequence-model interface, a table model and counted n-gram models
    mlcourse.transformer  a small causal Transformer language model in torch, its training loop
                          and its pretrained checkpoint
    mlcourse.sources      a Markov source: sequences with a known distribution and entropy rate
    mlcourse.world        a synthetic world of facts: text, questions with answers, dialogues
    mlcourse.plots        the figures the lessons repeat
    mlcourse.checking     the checks every test cell uses

Submodules load on first use, so `import mlcourse` stays fast (torch loads only with `transformer`).
"""

import importlib

from mlcourse.vocab import BOS, EOS, IGNORE_INDEX, PAD, Vocab

__all__ = ["BOS", "EOS", "IGNORE_INDEX", "PAD", "Vocab", "checking", "models", "plots", "sources",
           "transformer", "vocab", "world"]
_SUBMODULES = {"checking", "models", "plots", "sources", "transformer", "world"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"mlcourse.{name}")
    raise AttributeError(f"module 'mlcourse' has no attribute {name!r}")
