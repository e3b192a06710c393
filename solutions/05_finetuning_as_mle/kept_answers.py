"""Kept answers for lesson 05 (see solutions/README.md): typical wrong answers and differently written correct ones."""

_STEP = '''
def sft_training_step(model, pairs, lr):
    {zero}loss = sft_loss(model, pairs){scale}
    loss.backward()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter {sign}= lr * parameter.grad
    return {returned}
'''
# The SFT loss with the right mask, reduced in the way the wrong answer chooses.
_LOSS = '''
def sft_loss(model, pairs):
    vocab = model.vocab
    ids = torch.from_numpy(vocab.pad([[vocab.bos_id, *x, *y, vocab.eos_id] for x, y in pairs]))
    targets = torch.full_like(ids[:, 1:], IGNORE_INDEX)
    for b, (x, y) in enumerate(pairs):
        targets[b, len(x) : len(x) + len(y) + 1] = ids[b, len(x) + 1 : len(x) + len(y) + 2]
    logits = model(ids[:, :-1])
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX{reduction}){scale}
'''
_CORRECT_STEP = dict(zero="model.zero_grad()\n    ", scale="", sign="-", returned="loss.item()")

WRONG = [
    ("answer_random_init", "test_answer_random_init", "minus this sum", 'answer_random_init = "a"'),
    ("answer_random_init", "test_answer_random_init", "need not be modelled", 'answer_random_init = "c"'),
    ("answer_random_init", "test_answer_random_init", "one-token response", 'answer_random_init = "d"'),
    ("response_log_likelihood", "test_response_log_likelihood", "not its log", '''
def response_log_likelihood(step_probs, targets):
    probs = np.asarray(step_probs, dtype=np.float64)
    return float(np.prod(probs[np.arange(len(probs)), np.asarray(targets)]))
'''),
    ("response_log_likelihood", "test_response_log_likelihood", "summing probabilities", '''
def response_log_likelihood(step_probs, targets):
    probs = np.asarray(step_probs, dtype=np.float64)
    return float(probs[np.arange(len(probs)), np.asarray(targets)].sum())
'''),
    ("response_log_likelihood", "test_response_log_likelihood", "averaging over the tokens", '''
def response_log_likelihood(step_probs, targets):
    probs = np.asarray(step_probs, dtype=np.float64)
    return float(np.log(probs[np.arange(len(probs)), np.asarray(targets)]).mean())
'''),
    ("response_log_likelihood", "test_response_log_likelihood", "squared error", '''
def response_log_likelihood(step_probs, targets):
    probs = np.asarray(step_probs, dtype=np.float64)
    onehot = np.eye(probs.shape[1])[np.asarray(targets)]
    return float(-((onehot - probs) ** 2).sum())
'''),
    ("response_log_likelihood", "test_response_log_likelihood", "a sign error", '''
def response_log_likelihood(step_probs, targets):
    probs = np.asarray(step_probs, dtype=np.float64)
    return float(-np.log(probs[np.arange(len(probs)), np.asarray(targets)]).sum())
'''),
    ("answer_new_york", "test_answer_new_york", "every token counts", 'answer_new_york = "b"'),
    ("answer_new_york", "test_answer_new_york", "do not tie", 'answer_new_york = "c"'),
    ("sft_loss", "test_sft_loss", "training on prompt tokens", '''
def sft_loss(model, pairs):
    vocab = model.vocab
    ids = torch.from_numpy(vocab.pad([[vocab.bos_id, *x, *y, vocab.eos_id] for x, y in pairs]))
    targets = ids[:, 1:].masked_fill(ids[:, 1:] == vocab.pad_id, IGNORE_INDEX)
    return F.cross_entropy(model(ids[:, :-1]).flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX, reduction="sum")
'''),
    ("sft_loss", "test_sft_loss", "forgetting <eos>", '''
def sft_loss(model, pairs):
    vocab = model.vocab
    ids = torch.from_numpy(vocab.pad([[vocab.bos_id, *x, *y] for x, y in pairs]))
    targets = torch.full_like(ids[:, 1:], IGNORE_INDEX)
    for b, (x, y) in enumerate(pairs):
        targets[b, len(x) : len(x) + len(y)] = ids[b, len(x) + 1 : len(x) + len(y) + 1]
    return F.cross_entropy(model(ids[:, :-1]).flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX, reduction="sum")
'''),
    ("sft_loss", "test_sft_loss", "the mean over the scored tokens", _LOSS.format(reduction="", scale="")),
    ("sft_loss", "test_sft_loss", "dividing by the number of pairs",
     _LOSS.format(reduction=', reduction="sum"', scale=" / len(pairs)")),
    ("sft_loss", "test_sft_loss", "a loss cut off from the model", '''
def sft_loss(model, pairs):
    vocab, total = model.vocab, 0.0
    for x, y in pairs:
        seq = [vocab.bos_id, *x, *y, vocab.eos_id]
        log_probs = model.next_log_probs([seq[:t] for t in range(len(x) + 1, len(seq))])  # numpy: no gradient
        total -= log_probs[np.arange(len(y) + 1), seq[len(x) + 1:]].sum()
    return torch.tensor(total)
'''),
    ("sft_training_step", "test_sft_training_step", "the old gradients were not cleared",
     _STEP.format(**{**_CORRECT_STEP, "zero": ""})),
    ("sft_training_step", "test_sft_training_step", "a step uphill", _STEP.format(**{**_CORRECT_STEP, "sign": "+"})),
    ("sft_training_step", "test_sft_training_step", "the mean over the scored tokens",
     _STEP.format(**{**_CORRECT_STEP, "scale": " / sum(len(y) + 1 for _, y in pairs)"})),
    ("sft_training_step", "test_sft_training_step", "the loss after the step",
     _STEP.format(**{**_CORRECT_STEP, "returned": "sft_loss(model, pairs).item()"})),
    ("answer_best_log_likelihood", "test_answer_best_log_likelihood", "probability 1", "answer_best_log_likelihood = 0.0"),
    ("answer_best_log_likelihood", "test_answer_best_log_likelihood", "the uniform distribution", '''
answer_best_log_likelihood = sum(np.log(1 / len(world.multi_answer[x])) for x, _ in world.qa_train if x in world.multi_answer)
'''),
    ("answer_best_log_likelihood", "test_answer_best_log_likelihood", "each distinct answer counted once", '''
answer_best_log_likelihood = sum(np.log(p) for answers in world.multi_answer.values() for p in answers.values())
'''),
    ("token_weights", "test_token_weights", "forgetting <eos>", '''
def token_weights(response_lengths, reduction):
    n = np.asarray(response_lengths, dtype=float)
    return {"sum": np.ones_like(n), "token_mean": np.full_like(n, 1 / n.sum()), "sequence_mean": 1 / (len(n) * n)}[reduction]
'''),
    ("token_weights", "test_token_weights", "not averaged over the pairs", '''
def token_weights(response_lengths, reduction):
    n = np.asarray(response_lengths, dtype=float) + 1
    return {"sum": np.ones_like(n), "token_mean": np.full_like(n, 1 / n.sum()), "sequence_mean": 1 / n}[reduction]
'''),
    ("answer_reduction", "test_answer_reduction", "mean over tokens across the batch treated as the objective",
     'answer_reduction = "b"'),
    ("answer_reduction", "test_answer_reduction", "different objective", 'answer_reduction = "c"'),
]

ALTERNATIVE = {
    "response_log_likelihood": '''
import math

def response_log_likelihood(step_probs, targets):
    total = 0.0
    for row, target in zip(step_probs, targets):
        total += math.log(float(row[int(target)]))
    return total
''',
    "sft_loss": '''
def sft_loss(model, pairs):
    vocab = model.vocab
    total = 0.0
    for x, y in pairs:  # one pair at a time: no padding at all
        ids = torch.tensor([[vocab.bos_id, *x, *y, vocab.eos_id]])
        log_probs = torch.log_softmax(model(ids[:, :-1])[0], dim=-1)  # (T, V)
        for t in range(len(x), len(x) + len(y) + 1):
            total = total - log_probs[t, ids[0, t + 1]]
    return total
''',
    "sft_training_step": '''
def sft_training_step(model, pairs, lr):
    parameters = list(model.parameters())
    loss = sft_loss(model, pairs)
    grads = torch.autograd.grad(loss, parameters)  # leaves .grad alone
    with torch.no_grad():
        for parameter, grad in zip(parameters, grads):
            parameter.sub_(lr * grad)
    return float(loss.detach())
''',
    "answer_best_log_likelihood": '''
import math
from collections import Counter

_counts = Counter(pair for pair in world.qa_train if pair[0] in world.multi_answer)
_totals = Counter(x for x, _ in world.qa_train if x in world.multi_answer)
answer_best_log_likelihood = sum(c * math.log(c / _totals[x]) for (x, _), c in _counts.items())
''',
    "token_weights": '''
def token_weights(response_lengths, reduction):
    scored = [n + 1 for n in response_lengths]
    if reduction == "sum":
        return np.array([1.0 for _ in scored])
    if reduction == "token_mean":
        return np.array([1.0 / sum(scored) for _ in scored])
    return np.array([1.0 / (len(scored) * s) for s in scored])
''',
}
