"""Checkpoints: round trip, clear errors on mismatch, the committed pretrained model, the script
that makes it."""

import importlib.util
from pathlib import Path

import pytest
import torch

from mlcourse.transformer import (
    TransformerConfig,
    TransformerLM,
    load_checkpoint,
    load_pretrained,
    load_weights,
    save_checkpoint,
)
from mlcourse.vocab import Vocab
from mlcourse.world import World

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_checkpoint.py"
VOCAB = Vocab("a b c".split())


@pytest.fixture(autouse=True)
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("make_checkpoint", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_model(vocab: Vocab = VOCAB, d_model: int = 8) -> TransformerLM:
    torch.manual_seed(0)
    return TransformerLM(vocab, TransformerConfig(vocab_size=len(vocab), context_length=8,
                                                  d_model=d_model, n_heads=2))


def test_round_trip_gives_identical_outputs(tmp_path):
    model, ids = tiny_model(), torch.tensor([[1, 3, 4, 5, 2]])
    save_checkpoint(model, tmp_path / "m.pt", note="tiny")
    loaded = load_checkpoint(tmp_path / "m.pt")
    assert (loaded.config == model.config and loaded.vocab.itos == VOCAB.itos
            and loaded.info == {"note": "tiny"})
    assert torch.equal(loaded(ids), model(ids))
    assert torch.equal(load_checkpoint(tmp_path / "m.pt", VOCAB)(ids), model(ids))


def test_vocabulary_mismatch_is_named(tmp_path):
    save_checkpoint(tiny_model(), tmp_path / "m.pt")
    with pytest.raises(ValueError, match="token id 4 is 'x' in the given vocabulary but 'b'"):
        load_checkpoint(tmp_path / "m.pt", Vocab("a x c".split()))
    with pytest.raises(ValueError, match="has 7 tokens, the checkpoint's has 6"):
        load_checkpoint(tmp_path / "m.pt", Vocab("a b c d".split()))


def test_shape_mismatch_is_named():
    with pytest.raises(ValueError,
                       match=r"tok_emb.weight has shape \(6, 8\), the model expects \(6, 16\)"):
        load_weights(tiny_model(d_model=16), tiny_model().state_dict())
    state = tiny_model().state_dict()
    del state["ln_f.bias"]
    with pytest.raises(ValueError, match="missing ln_f.bias"):
        load_weights(tiny_model(), state)


def test_pretrained_checkpoint_is_small_and_fits_world_zero(script):
    path = Path(script.OUT)
    assert path.stat().st_size <= 2_000_000
    world = World(seed=0)
    model = load_pretrained(world.vocab)
    assert model.config == TransformerConfig(vocab_size=len(world.vocab))
    loss = script.heldout_loss(model, world.statements_heldout)
    assert loss == pytest.approx(model.info["heldout_loss"], abs=1e-5)
    assert loss < 0.5 * script.heldout_loss(TransformerLM(world.vocab), world.statements_heldout)


def test_the_script_reproduces_its_heldout_loss(script, tmp_path):
    losses = [script.main(["--steps", "20", "--out", str(tmp_path / f"{i}.pt")]) for i in range(2)]
    assert losses[0] == pytest.approx(losses[1], abs=1e-3)
    assert load_checkpoint(tmp_path / "1.pt").info == {"heldout_loss": losses[1], "steps": 20,
                                                       "seed": 0}


def test_finetuning_from_the_checkpoint_beats_a_random_init_on_heldout_questions(script):
    torch.set_num_threads(1)
    results = script.compare_finetuning(load_pretrained(), steps=50)
    assert results["pretrained"] > results["random init"] + 2.0  # nats per held-out pair
