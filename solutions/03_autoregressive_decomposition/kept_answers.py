"""Kept answers for lesson 03_autoregressive_decomposition (see README.md in this folder)."""


def _function(name: str, signature: str, body: str) -> str:
    """The source of an answer cell defining `name(signature)` with `body` (indented here)."""
    lines = "\n".join("    " + line for line in body.strip("\n").splitlines())
    return f"def {name}({signature}):\n{lines}\n"


def targets_answer(body: str) -> str:
    return _function("next_token_targets", "ids, pad_id", body)


def token_answer(body: str) -> str:
    return _function("token_log_probs", "logits, targets", body)


def sequence_answer(body: str) -> str:
    return _function("sequence_log_likelihoods", "logits, targets", body)


def softmax_answer(body: str) -> str:
    return _function("stable_log_softmax", "logits", body)


def loss_answer(body: str) -> str:
    return _function("negative_log_likelihood", "logits, targets", body)


def greedy_answer(body: str) -> str:
    return _function("greedy_decode", "model, prefix, max_new_tokens", body)


GREEDY_LOOP = """
generated = []
while len(generated) < max_new_tokens:
    generated.append(int(np.argmax(model.next_log_probs([list(prefix) + generated])[0])))
    {stop}
return {result}
"""

WRONG = [
    # exercise 1: log Pr(deep learning | x)
    ("log_prob_deep_learning", "test_log_prob_deep_learning", "summing probabilities",
     "log_prob_deep_learning = math.exp(-0.7) + math.exp(-0.4)"),
    ("log_prob_deep_learning", "test_log_prob_deep_learning", "product of probabilities",
     "log_prob_deep_learning = math.exp(-0.7) * math.exp(-0.4)"),
    ("log_prob_deep_learning", "test_log_prob_deep_learning", "multiplying the log-probabilities",
     "log_prob_deep_learning = -0.7 * -0.4"),
    ("log_prob_deep_learning", "test_log_prob_deep_learning", "mean over terms",
     "log_prob_deep_learning = (-0.7 + -0.4) / 2"),
    ("log_prob_deep_learning", "test_log_prob_deep_learning", "sign error",
     "log_prob_deep_learning = 0.7 + 0.4"),
    # exercise 2: the targets of a batch
    ("next_token_targets", "test_next_token_targets", "off-by-one shift", targets_answer("""
targets = ids[:, :-1].clone()
targets[targets == pad_id] = IGNORE_INDEX
return targets
""")),
    ("next_token_targets", "test_next_token_targets", "off-by-one shift", targets_answer("""
targets = ids.clone()
targets[targets == pad_id] = IGNORE_INDEX
return targets
""")),
    ("next_token_targets", "test_next_token_targets", "including pad positions", targets_answer("""
return ids[:, 1:].clone()
""")),
    ("next_token_targets", "test_next_token_targets", "changing ids in place", targets_answer("""
targets = ids[:, 1:]
targets[targets == pad_id] = IGNORE_INDEX
return targets
""")),
    # exercise 3: each target's log-probability
    ("token_log_probs", "test_token_log_probs", "log of softmax underflow", token_answer("""
log_probs = torch.log(torch.softmax(logits, dim=-1))
scored = targets != IGNORE_INDEX
picked = log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
return torch.where(scored, picked, 0.0)
""")),
    ("token_log_probs", "test_token_log_probs", "including pad positions", token_answer("""
log_probs = torch.log_softmax(logits, dim=-1)
return log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
""")),
    ("token_log_probs", "test_token_log_probs", "probabilities instead of log-probabilities", token_answer("""
probs = torch.softmax(logits, dim=-1)
scored = targets != IGNORE_INDEX
picked = probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
return torch.where(scored, picked, 0.0)
""")),
    ("token_log_probs", "test_token_log_probs", "raw logits", token_answer("""
scored = targets != IGNORE_INDEX
picked = logits.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
return torch.where(scored, picked, 0.0)
""")),
    # exercise 4: per-sequence log-likelihoods
    ("sequence_log_likelihoods", "test_sequence_log_likelihoods", "including pad positions", sequence_answer("""
log_probs = torch.log_softmax(logits, dim=-1)
return log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1).sum(-1)
""")),
    ("sequence_log_likelihoods", "test_sequence_log_likelihoods", "summing probabilities", sequence_answer("""
return torch.where(targets != IGNORE_INDEX, token_log_probs(logits, targets).exp(), 0.0).sum(-1)
""")),
    ("sequence_log_likelihoods", "test_sequence_log_likelihoods", "product of probabilities", sequence_answer("""
return token_log_probs(logits, targets).sum(-1).exp()
""")),
    ("sequence_log_likelihoods", "test_sequence_log_likelihoods", "averaging over each sequence's tokens", sequence_answer("""
return token_log_probs(logits, targets).sum(-1) / (targets != IGNORE_INDEX).sum(-1)
""")),
    ("sequence_log_likelihoods", "test_sequence_log_likelihoods", "log of softmax underflow", sequence_answer("""
log_probs = torch.log(torch.softmax(logits, dim=-1))
picked = log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
return torch.where(targets != IGNORE_INDEX, picked, 0.0).sum(-1)
""")),
    # exercise 5: a stable log-softmax
    ("stable_log_softmax", "test_stable_log_softmax", "log of softmax underflow", softmax_answer("""
weights = (logits - logits.max(dim=-1, keepdim=True).values).exp()
return (weights / weights.sum(dim=-1, keepdim=True)).log()
""")),
    ("stable_log_softmax", "test_stable_log_softmax", "without subtracting the max", softmax_answer("""
return logits - logits.exp().sum(dim=-1, keepdim=True).log()
""")),
    # exercise 6: the summed loss of a batch
    ("negative_log_likelihood", "test_negative_log_likelihood", "the mean over tokens", loss_answer("""
return F.cross_entropy(logits.flatten(0, 1), targets.flatten())
""")),
    ("negative_log_likelihood", "test_negative_log_likelihood", "averaging over the batch where the objective sums", loss_answer("""
return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="sum") / logits.shape[0]
""")),
    ("negative_log_likelihood", "test_negative_log_likelihood", "sign error", loss_answer("""
return sequence_log_likelihoods(logits, targets).sum()
""")),
    ("negative_log_likelihood", "test_negative_log_likelihood", "including pad positions", loss_answer("""
return F.cross_entropy(logits.flatten(0, 1), targets.flatten().clamp(min=0), reduction="sum")
""")),
    # exercises 7, 8 and 10: multiple choice
    ("answer_better_model", "test_answer_better_model", "sign error", 'answer_better_model = "a"'),
    ("answer_better_model", "test_answer_better_model", "dividing both totals by 100", 'answer_better_model = "c"'),
    ("answer_better_model", "test_answer_better_model", "the loss is minus the log-likelihood", 'answer_better_model = "d"'),
    ("answer_flawed_calculation", "test_answer_flawed_calculation", "off-by-one shift remains", 'answer_flawed_calculation = "a"'),
    ("answer_flawed_calculation", "test_answer_flawed_calculation", "averaging over the tokens", 'answer_flawed_calculation = "c"'),
    ("answer_flawed_calculation", "test_answer_flawed_calculation", "summing probabilities", 'answer_flawed_calculation = "d"'),
    ("answer_probability_one", "test_answer_probability_one", "must share its probability mass", 'answer_probability_one = "a"'),
    ("answer_probability_one", "test_answer_probability_one", "the limit is not the softmax", 'answer_probability_one = "c"'),
    ("answer_probability_one", "test_answer_probability_one", "capacity does not help", 'answer_probability_one = "d"'),
    # exercise 9: greedy decoding
    ("greedy_decode", "test_greedy_decode", "returning the prefix too", greedy_answer(GREEDY_LOOP.format(
        stop="if generated[-1] == model.vocab.eos_id:\n        break", result="list(prefix) + generated"))),
    ("greedy_decode", "test_greedy_decode", "leaving out <eos>", greedy_answer(GREEDY_LOOP.format(
        stop="if generated[-1] == model.vocab.eos_id:\n        return generated[:-1]", result="generated"))),
    ("greedy_decode", "test_greedy_decode", "not stopping at <eos>", greedy_answer(GREEDY_LOOP.format(
        stop="pass", result="generated"))),
]

ALTERNATIVE = {
    "log_prob_deep_learning": "log_prob_deep_learning = math.log(math.exp(-0.7) * math.exp(-0.4))",
    "next_token_targets": targets_answer("""
B, T = ids.shape
targets = torch.empty(B, T - 1, dtype=ids.dtype)
for b in range(B):
    for t in range(T - 1):
        token = int(ids[b, t + 1])
        targets[b, t] = IGNORE_INDEX if token == pad_id else token
return targets
"""),
    "token_log_probs": token_answer("""
B, T, V = logits.shape
out = torch.zeros(B, T)
for b in range(B):
    for t in range(T):
        target = int(targets[b, t])
        if target != IGNORE_INDEX:
            out[b, t] = logits[b, t, target] - torch.logsumexp(logits[b, t], dim=0)
return out
"""),
    "sequence_log_likelihoods": sequence_answer("""
B, T, V = logits.shape
per_token = F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T), reduction="none")
return -per_token.reshape(B, T).sum(dim=1)
"""),
    "stable_log_softmax": softmax_answer("""
return logits - torch.logsumexp(logits, dim=-1, keepdim=True)
"""),
    "negative_log_likelihood": loss_answer("""
log_probs = stable_log_softmax(logits)
scored = targets != IGNORE_INDEX
picked = torch.take_along_dim(log_probs, targets.masked_fill(~scored, 0)[..., None], dim=-1)[..., 0]
return -(picked * scored).sum()
"""),
    "greedy_decode": greedy_answer("""
ids = list(prefix)
for _ in range(max_new_tokens):
    next_id = int(torch.from_numpy(model.next_log_probs([ids])).argmax(dim=-1)[0])
    ids.append(next_id)
    if next_id == model.vocab.eos_id:
        break
return ids[len(prefix):]
"""),
    "answer_better_model": 'answer_better_model = " B "',
}
