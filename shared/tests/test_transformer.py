"""The Transformer: proper distributions, causality, learning, next_log_probs, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mlcourse.models import SequenceModel
from mlcourse.transformer import TransformerConfig, TransformerLM, minibatches, train
from mlcourse.vocab import Vocab

VOCAB = Vocab("a b c d".split())


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, above all on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_model(seed: int = 0, **sizes) -> TransformerLM:
    torch.manual_seed(seed)
    return TransformerLM(VOCAB, TransformerConfig(vocab_size=len(VOCAB), context_length=16,
                                                  d_model=16, **sizes))


def random_ids(B: int, T: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(len(VOCAB), (B, T), generator=torch.Generator().manual_seed(seed))


def test_next_token_distributions_sum_to_one():
    logits = tiny_model()(random_ids(3, 10))  # (B, T, V)
    assert logits.shape == (3, 10, len(VOCAB))
    torch.testing.assert_close(logits.softmax(-1).sum(-1), torch.ones(3, 10))


@pytest.mark.parametrize("tied", [True, False])
def test_changing_a_later_token_never_changes_earlier_logits(tied):
    model = tiny_model(tied=tied)
    ids = random_ids(2, 12)
    changed = ids.clone()
    changed[:, 7] = (changed[:, 7] + 1) % len(VOCAB)
    before, after = model(ids), model(changed)
    torch.testing.assert_close(before[:, :7], after[:, :7], rtol=0, atol=1e-6)
    assert not torch.allclose(before[:, 7:], after[:, 7:])


def test_learns_a_deterministic_sequence_to_near_zero_loss():
    model = tiny_model()
    ids = torch.tensor([VOCAB.encode("a b c d a c b d a a d d", bos=True, eos=True)])  # (1, 14)

    def loss_fn(model, batch):
        logits = model(batch[:, :-1])  # (1, 13, V)
        return F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())

    losses = train(model, loss_fn, [ids], steps=200, lr=1e-2, progress=False)
    assert len(losses) == 200 and losses[0] > 1.0
    assert loss_fn(model, ids).item() < 0.01


def test_training_is_deterministic_given_the_seed():
    def loss_fn(model, batch):
        return model(torch.stack(batch)).logsumexp(-1).mean()

    runs = [train(tiny_model(), loss_fn, minibatches(list(random_ids(8, 6)), 4), 5,
                  progress=False) for _ in range(2)]
    assert runs[0] == runs[1]


def test_after_step_runs_after_each_update():
    model, seen = tiny_model(), []
    ids = random_ids(2, 5)

    def loss_fn(model, batch):
        return model(batch).logsumexp(-1).mean()

    losses = train(model, loss_fn, [ids], 3, progress=False,
                   after_step=lambda n: seen.append((n, loss_fn(model, ids).item())))
    assert [n for n, _ in seen] == [1, 2, 3]
    # after step n, the loss step n+1 starts from
    assert [loss for _, loss in seen[:2]] == losses[1:]


def test_next_log_probs_is_log_softmax_of_the_last_position():
    model = tiny_model()
    prefixes = [VOCAB.encode(t, bos=True) for t in ["a", "b c d a", "", "d d"]]
    got = model.next_log_probs(prefixes)  # (4, V)
    assert (isinstance(model, SequenceModel) and got.shape == (4, len(VOCAB))
            and got.dtype == np.float64)
    for row, prefix in zip(got, prefixes):
        want = torch.log_softmax(model(torch.tensor([prefix]))[0, -1].double(), -1)
        np.testing.assert_allclose(row, want.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(np.exp(got).sum(1), 1.0, atol=1e-12)


def test_bad_input_gets_a_clear_error():
    model = tiny_model()
    with pytest.raises(ValueError, match="starts with <s>"):
        model.next_log_probs([[VOCAB.id("a")]])
    with pytest.raises(ValueError, match="context_length=16"):
        model(random_ids(1, 17))
    with pytest.raises(ValueError, match="LongTensor"):
        model(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="token ids run from 0 to 6"):
        model(torch.tensor([[1, 7]]))
    with pytest.raises(ValueError, match="vocab_size=9 but the vocabulary has 7"):
        TransformerLM(VOCAB, TransformerConfig(vocab_size=9))
    with pytest.raises(ValueError, match="multiple of n_heads"):
        TransformerConfig(vocab_size=7, d_model=10, n_heads=4)


def test_train_rejects_a_loss_that_is_not_a_scalar_of_the_model():
    with pytest.raises(ValueError, match="scalar tensor"):
        train(tiny_model(), lambda model, batch: model(batch).mean(-1), [random_ids(1, 3)], 1,
              progress=False)
    with pytest.raises(ValueError, match="ran out after 1 batches"):
        train(tiny_model(), lambda model, batch: model(batch).mean(), iter([random_ids(1, 3)]), 2,
              progress=False)


def test_minibatches_visit_every_item_once_per_pass():
    batches = minibatches(list(range(10)), 4, seed=3)
    first_pass = [x for _ in range(2) for x in next(batches)] + next(batches)[:2]
    assert sorted(first_pass) == list(range(10))
    assert ([next(minibatches("abcdef", 3, seed=1)) for _ in range(2)]
            == [next(minibatches("abcdef", 3, seed=1))] * 2)
