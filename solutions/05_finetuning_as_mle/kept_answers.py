"""Kept answers for lesson 05 (see solutions/README.md): typical wrong answers, each named by the
test it fails, and correct answers written differently, one for each form the exercise allows."""

_STEP = '''
def sft_training_step(model, pairs, lr):
    {zero}loss = sft_loss(model, pairs){scale}
    loss.backward()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter {sign}= lr * parameter.grad
    return {returned}
'''
_CORRECT_STEP = dict(zero="model.zero_grad()\n    ", scale="", sign="-", returned="loss.item()")


def _step(**change):
    return _STEP.format(**{**_CORRECT_STEP, **change})


# The SFT loss, its targets set by `{targets}` (for row b, prompt length m = len(x), words k), and
# reduced in the way the wrong answer chooses.
_LOSS = '''
def sft_loss(model, pairs):
    vocab = model.vocab
    ids = torch.from_numpy(vocab.pad([[vocab.bos_id, *x, *y, vocab.eos_id] for x, y in pairs]))
    targets = torch.full_like(ids[:, 1:], IGNORE_INDEX)
    for b, (x, y) in enumerate(pairs):
        m, k = len(x), len(y)
        {targets}
    logits = model(ids[:, :-1])
    return {sign}F.cross_entropy(logits.flatten(0, 1), targets.flatten(),
                           ignore_index=IGNORE_INDEX{reduction}){scale}
'''
_RIGHT_TARGETS = "targets[b, m : m + k + 1] = ids[b, m + 1 : m + k + 2]"


def _loss(targets=_RIGHT_TARGETS, reduction=', reduction="sum"', scale="", sign=""):
    return _LOSS.format(targets=targets, reduction=reduction, scale=scale, sign=sign)


_RESPONSE = '''
def response_log_likelihood(step_probs, targets):
    probs = np.asarray(step_probs, dtype=np.float64)
    picked = probs[np.arange(len(probs)), np.asarray(targets)]
    return float({value})
'''


def _response(value):
    return _RESPONSE.format(value=value)


_WEIGHTS = '''
def token_weights(response_lengths, reduction):
    n = np.asarray(response_lengths, dtype=float){plus}
    B = len(n)
    return {{"sum": np.ones(B), "pair_mean": {pair_mean}, "token_mean": {token_mean},
            "sequence_mean": {sequence_mean}}}[reduction]
'''
_RIGHT_WEIGHTS = dict(plus=" + 1", pair_mean="np.full(B, 1 / B)",
                      token_mean="np.full(B, 1 / n.sum())", sequence_mean="1 / (B * n)")


def _weights(**change):
    return _WEIGHTS.format(**{**_RIGHT_WEIGHTS, **change})


_GREEDY = '''
def greedy_decode(model, prefix, max_new_tokens):
    generated = []
    while {budget}:
        log_probs = model.next_log_probs([{context}])[0]
        generated.append(int({pick}(log_probs)))
        {stop}
    return {result}
'''
_RIGHT_GREEDY = dict(budget="len(generated) < max_new_tokens", context="list(prefix) + generated",
                     pick="np.argmax",
                     stop="if generated[-1] == model.vocab.eos_id:\n            break",
                     result="generated")


def _greedy(**change):
    return _GREEDY.format(**{**_RIGHT_GREEDY, **change})


_BEST = "answer_best_log_likelihood = {}"
_PAIRS = "[(x, y) for x, y in world.qa_train if x in world.multi_answer]"

WRONG = [
    # exercise 1
    ("answer_random_init", "test_answer_random_init", "minus this sum", 'answer_random_init = "a"'),
    ("answer_random_init", "test_answer_random_init", "need not be modelled",
     'answer_random_init = "c"'),
    ("answer_random_init", "test_answer_random_init", "one-token response",
     'answer_random_init = "d"'),
    # exercise 2: log Pr(y | x) from the step distributions
    ("response_log_likelihood", "test_response_log_likelihood", "the product of probabilities",
     _response("np.prod(picked)")),
    ("response_log_likelihood", "test_response_log_likelihood", "probabilities summed",
     _response("picked.sum()")),
    ("response_log_likelihood", "test_response_log_likelihood", "the mean over terms",
     _response("np.log(picked).mean()")),
    ("response_log_likelihood", "test_response_log_likelihood", "a sign error",
     _response("-np.log(picked).sum()")),
    ("response_log_likelihood", "test_response_log_likelihood", "log base 2",
     _response("np.log2(picked).sum()")),
    ("response_log_likelihood", "test_response_log_likelihood", "log base 10",
     _response("np.log10(picked).sum()")),
    ("response_log_likelihood", "test_response_log_likelihood", "squared error",
     _response("-((np.eye(probs.shape[1])[np.asarray(targets)] - probs) ** 2).sum()")),
    ("response_log_likelihood", "test_response_log_likelihood", "off by one",
     _response("np.log(probs[np.arange(len(probs) - 1), np.asarray(targets)[1:]]).sum()")),
    ("response_log_likelihood", "test_response_log_likelihood", "most probable token",
     _response("np.log(probs.max(axis=1)).sum()")),
    # exercise 3
    ("answer_new_york", "test_answer_new_york", "every token counts", 'answer_new_york = "b"'),
    ("answer_new_york", "test_answer_new_york", "need not tie", 'answer_new_york = "c"'),
    ("answer_new_york", "test_answer_new_york", "not the largest", 'answer_new_york = "d"'),
    # exercise 4: the SFT loss
    ("sft_loss", "test_sft_loss", "the prompt scored too",
     _loss(targets="targets[b, : m + k + 1] = ids[b, 1 : m + k + 2]")),
    ("sft_loss", "test_sft_loss", "the prompt scored instead",
     _loss(targets="targets[b, :m] = ids[b, 1 : m + 1]")),
    ("sft_loss", "test_sft_loss", "starts one position early",
     _loss(targets="targets[b, m - 1 : m + k + 1] = ids[b, m : m + k + 2]")),
    ("sft_loss", "test_sft_loss", "padding scored",
     _loss(targets="targets[b, m:] = ids[b, m + 1 :]")),
    ("sft_loss", "test_sft_loss", "<eos> left out",
     _loss(targets="targets[b, m : m + k] = ids[b, m + 1 : m + k + 1]")),
    # three tokens scored, but not the three words: once misread as "<eos> left out"
    ("sft_loss", "test_sft_loss", "starts one position late",
     _loss(targets="targets[b, m + 1 : m + k + 1] = ids[b, m + 2 : m + k + 2]")),
    # an unshifted loss scores as many tokens as the right one
    ("sft_loss", "test_sft_loss", "no shift",
     _loss(targets="targets[b, m : m + k + 1] = ids[b, m : m + k + 1]")),
    ("sft_loss", "test_sft_loss", "a mean over the scored tokens", _loss(reduction="")),
    ("sft_loss", "test_sft_loss", "divided by the number of pairs", _loss(scale=" / len(pairs)")),
    ("sft_loss", "test_sft_loss", "a sign error", _loss(sign="-")),
    ("sft_loss", "test_sft_loss", "log base 2", _loss(scale=" / math.log(2)").replace(
        "def sft_loss", "import math\n\n\ndef sft_loss")),
    ("sft_loss", "test_sft_loss_random_model", "no shift",
     _loss(targets="targets[b, m : m + k + 1] = ids[b, m : m + k + 1]")),
    ("sft_loss", "test_sft_loss_random_model", "a loss cut off from the model", '''
def sft_loss(model, pairs):
    vocab, total = model.vocab, 0.0
    for x, y in pairs:
        seq = [vocab.bos_id, *x, *y, vocab.eos_id]
        log_probs = model.next_log_probs([seq[:t] for t in range(len(x) + 1, len(seq))])  # numpy
        total -= log_probs[np.arange(len(y) + 1), seq[len(x) + 1:]].sum()
    return torch.tensor(total)
'''),
    # the right loss rebuilt as a new leaf: it requires grad, so only backward() tells
    ("sft_loss", "test_sft_loss_random_model", "rebuilt as a new tensor",
     _loss().replace("    return F.cross_entropy", "    loss = F.cross_entropy").replace(
         'reduction="sum")', 'reduction="sum")\n    return torch.tensor(loss.item(), '
         'requires_grad=True)')),
    # exercise 5: the weight of one token
    ("token_weights", "test_token_weights", "<eos> forgotten", _weights(plus="")),
    ("token_weights", "test_token_weights", "a whole pair",
     _weights(pair_mean="n / B", token_mean="n / n.sum()",
              sequence_mean="np.full(B, 1 / B)").replace('"sum": np.ones(B)', '"sum": n')),
    ("token_weights", "test_token_weights", "divided by the pair's own length",
     _weights(pair_mean="1 / n")),
    ("token_weights", "test_token_weights", "divided by the number of pairs",
     _weights(token_mean="np.full(B, 1 / B)")),
    ("token_weights", "test_token_weights", "not averaged over the pairs",
     _weights(sequence_mean="1 / n")),
    ("token_weights", "test_token_weights", "that is 'token_mean'",
     _weights(sequence_mean="np.full(B, 1 / n.sum())")),
    # exercise 6
    ("answer_reduction", "test_answer_reduction", "the same in every batch",
     'answer_reduction = "a"'),
    ("answer_reduction", "test_answer_reduction", "changes from batch to batch",
     'answer_reduction = "c"'),
    ("answer_reduction", "test_answer_reduction", "another objective", 'answer_reduction = "d"'),
    # exercise 7: one gradient step
    ("sft_training_step", "test_sft_training_step_old_gradients", "old gradients not cleared",
     _step(zero="")),
    ("sft_training_step", "test_sft_training_step_old_gradients", "no change", """
def sft_training_step(model, pairs, lr):
    return sft_loss(model, pairs).item()
"""),
    ("sft_training_step", "test_sft_training_step", "a step uphill", _step(sign="+")),
    ("sft_training_step", "test_sft_training_step", "the mean over the scored tokens",
     _step(scale=" / sum(len(y) + 1 for _, y in pairs)")),
    ("sft_training_step", "test_sft_training_step", "the loss after the step",
     _step(returned="sft_loss(model, pairs).item()")),
    ("sft_training_step", "test_sft_training_step", "no change",  # rebinds a name, changes nothing
     _step().replace("parameter -= lr * parameter.grad",
                     "parameter = parameter - lr * parameter.grad")),
    # exercise 8: the best log-likelihood of the 18 multi-answer pairs
    ("answer_best_log_likelihood", "test_answer_best_log_likelihood", "probability 1",
     _BEST.format("0.0")),
    ("answer_best_log_likelihood", "test_answer_best_log_likelihood", "the uniform distribution",
     _BEST.format(f"sum(np.log(1 / len(world.multi_answer[x])) for x, _ in {_PAIRS})")),
    ("answer_best_log_likelihood", "test_answer_best_log_likelihood",
     "each distinct answer counted once",
     _BEST.format("sum(np.log(p) for answers in world.multi_answer.values() "
                  "for p in answers.values())")),
    ("answer_best_log_likelihood", "test_answer_best_log_likelihood",
     "frequencies out of all 18 pairs",
     _BEST.format(f"sum(np.log({_PAIRS}.count((x, y)) / 18) for x, y in {_PAIRS})")),
    ("answer_best_log_likelihood", "test_answer_best_log_likelihood", "a sign error",
     _BEST.format(f"-sum(np.log(world.multi_answer[x][y]) for x, y in {_PAIRS})")),
    ("answer_best_log_likelihood", "test_answer_best_log_likelihood",
     "the product of probabilities",
     _BEST.format(f"np.prod([world.multi_answer[x][y] for x, y in {_PAIRS}])")),
    ("answer_best_log_likelihood", "test_answer_best_log_likelihood", "log base 2",
     _BEST.format(f"sum(np.log2(world.multi_answer[x][y]) for x, y in {_PAIRS})")),
    ("answer_best_log_likelihood", "test_answer_best_log_likelihood", "log base 10",
     _BEST.format(f"sum(np.log10(world.multi_answer[x][y]) for x, y in {_PAIRS})")),
    ("answer_best_log_likelihood", "test_answer_best_log_likelihood", "the mean over terms",
     _BEST.format(f"np.mean([np.log(world.multi_answer[x][y]) for x, y in {_PAIRS}])")),
    # exercise 9
    ("answer_probability_one", "test_answer_probability_one", "reaches 0 only on its own",
     'answer_probability_one = "a"'),
    ("answer_probability_one", "test_answer_probability_one", "size does not help",
     'answer_probability_one = "b"'),
    ("answer_probability_one", "test_answer_probability_one", "not the softmax",
     'answer_probability_one = "d"'),
    # exercise 10: greedy decoding
    ("greedy_decode", "test_greedy_decode", "the prefix returned too",
     _greedy(result="list(prefix) + generated")),
    ("greedy_decode", "test_greedy_decode", "<eos> left out", _greedy(
        stop="if generated[-1] == model.vocab.eos_id:\n            return generated[:-1]")),
    ("greedy_decode", "test_greedy_decode", "no stop at <eos>", _greedy(stop="pass")),
    ("greedy_decode", "test_greedy_decode", "the prefix never grows",
     _greedy(context="list(prefix)")),
    ("greedy_decode", "test_greedy_decode", "argmin", _greedy(pick="np.argmin")),
    ("greedy_decode", "test_greedy_decode", "one token over the budget",
     _greedy(budget="len(generated) <= max_new_tokens")),
    ("greedy_decode", "test_greedy_decode", "the budget counted the prefix",
     _greedy(budget="len(prefix) + len(generated) < max_new_tokens")),
    ("greedy_decode", "test_greedy_decode", "changed in place", '''
def greedy_decode(model, prefix, max_new_tokens):
    start = len(prefix)
    while len(prefix) - start < max_new_tokens:
        prefix.append(int(np.argmax(model.next_log_probs([prefix])[0])))  # grows the caller's list
        if prefix[-1] == model.vocab.eos_id:
            break
    return prefix[start:]
'''),
]

ALTERNATIVE = {
    "answer_random_init": ['answer_random_init = "B"', 'answer_random_init = " b "'],
    "response_log_likelihood": [
        '''
import math

def response_log_likelihood(step_probs, targets):
    total = 0.0  # a Python float, one row at a time
    for row, target in zip(step_probs, targets):
        total += math.log(float(row[int(target)]))
    return total
''',
        '''
def response_log_likelihood(step_probs, targets):
    probs = torch.as_tensor(step_probs, dtype=torch.float64)  # a 0-d tensor
    return torch.log(probs.gather(1, torch.as_tensor(targets).long()[:, None])).sum()
''',
        '''
def response_log_likelihood(step_probs, targets):
    probs = np.asarray(step_probs, dtype=np.float64)  # a NumPy scalar
    return -sum(-np.log(probs[t, int(y)]) for t, y in enumerate(np.asarray(targets)))
''',
    ],
    "answer_new_york": ['answer_new_york = "A"', 'answer_new_york = "a\\n"'],
    "sft_loss": [
        '''
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
        '''
def sft_loss(model, pairs):
    vocab = model.vocab
    ids = torch.from_numpy(vocab.pad([[vocab.bos_id, *x, *y, vocab.eos_id] for x, y in pairs]))
    positions = torch.arange(ids.shape[1] - 1)
    starts = torch.tensor([len(x) for x, _ in pairs])[:, None]
    stops = torch.tensor([len(x) + len(y) for x, y in pairs])[:, None]
    mask = (positions >= starts) & (positions <= stops)  # y and <eos>
    log_probs = torch.log_softmax(model(ids[:, :-1]), dim=-1)
    picked = log_probs.gather(2, ids[:, 1:, None])[..., 0]
    return -(picked * mask).sum()
''',
    ],
    "token_weights": [
        '''
def token_weights(response_lengths, reduction):
    scored = [n + 1 for n in response_lengths]  # a list
    if reduction == "sum":
        return [1.0 for _ in scored]
    if reduction == "pair_mean":
        return [1.0 / len(scored) for _ in scored]
    if reduction == "token_mean":
        return [1.0 / sum(scored) for _ in scored]
    return [1.0 / (len(scored) * s) for s in scored]
''',
        '''
def token_weights(response_lengths, reduction):
    scored = tuple(int(n) + 1 for n in response_lengths)  # a tuple
    divisor = {"sum": lambda s: 1, "pair_mean": lambda s: len(scored),
               "token_mean": lambda s: sum(scored), "sequence_mean": lambda s: len(scored) * s}
    return tuple(1 / divisor[reduction](s) for s in scored)
''',
        '''
def token_weights(response_lengths, reduction):
    n = torch.as_tensor(response_lengths, dtype=torch.float64) + 1  # a tensor
    if reduction == "sum":
        return torch.ones_like(n)
    if reduction == "pair_mean":
        return torch.ones_like(n) / len(n)
    if reduction == "token_mean":
        return torch.ones_like(n) / n.sum()
    return 1 / (len(n) * n)
''',
    ],
    "answer_reduction": ['answer_reduction = "B"', 'answer_reduction = "  b"'],
    "sft_training_step": [
        '''
def sft_training_step(model, pairs, lr):
    parameters = list(model.parameters())
    loss = sft_loss(model, pairs)
    grads = torch.autograd.grad(loss, parameters)  # leaves .grad alone
    with torch.no_grad():
        for parameter, grad in zip(parameters, grads):
            parameter.sub_(lr * grad)
    return float(loss.detach())
''',
        _step(returned="np.float64(loss.item())"),
        _step(returned="loss.detach()"),
        _step(zero="", returned="loss.detach().clone()").replace(
            "    loss.backward()",
            "    for p in model.parameters():\n        p.grad = None\n    loss.backward()"),
    ],
    "answer_best_log_likelihood": [
        '''
import math
from collections import Counter

_counts = Counter(pair for pair in world.qa_train if pair[0] in world.multi_answer)
_totals = Counter(x for x, _ in world.qa_train if x in world.multi_answer)
answer_best_log_likelihood = sum(c * math.log(c / _totals[x]) for (x, _), c in _counts.items())
''',
        _BEST.format(f"np.float64(sum(np.log(world.multi_answer[x][y]) for x, y in {_PAIRS}))"),
        _BEST.format(f"torch.tensor([world.multi_answer[x][y] for x, y in {_PAIRS}]).log().sum()"),
    ],
    "answer_probability_one": ['answer_probability_one = "C"', 'answer_probability_one = "c "'],
    "greedy_decode": [
        '''
def greedy_decode(model, prefix, max_new_tokens):
    ids = list(prefix)
    for _ in range(max_new_tokens):
        next_id = int(torch.from_numpy(model.next_log_probs([ids])).argmax(dim=-1)[0])
        ids.append(next_id)
        if next_id == model.vocab.eos_id:
            break
    return tuple(ids[len(prefix):])  # a tuple
''',
        _greedy(result="np.array(generated, dtype=np.int64)"),
        _greedy(result="torch.tensor(generated)"),
    ],
}
