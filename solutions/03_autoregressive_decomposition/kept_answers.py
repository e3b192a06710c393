"""Kept answers for lesson 03_autoregressive_decomposition (format: solutions/README.md,
"Kept answers").

WRONG holds one typical wrong answer for every misconception the lesson's checks name; ALTERNATIVE
holds correct answers written another way, one per form each exercise's text allows.
"""


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


def grad_answer(body: str) -> str:
    return _function("cross_entropy_grad", "logits, targets", body)


# token_log_probs from a table of log-probabilities `log_probs` (the line before it differs)
PICK = """
scored = targets != IGNORE_INDEX
picked = log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
return torch.where(scored, picked, 0.0)
"""
# the summed loss from per-token log-probabilities `token_lp`
SEQUENCES = "token_lp = token_log_probs(logits, targets)\n"
ONE_HOT = "one_hot = F.one_hot(targets.clamp(min=0), logits.shape[-1]).to(logits.dtype)\n"
SCORED = "scored = (targets != IGNORE_INDEX).unsqueeze(-1)\n"

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
    ("log_prob_deep_learning", "test_log_prob_deep_learning", "log base 2",
     "log_prob_deep_learning = math.log2(math.exp(-0.7) * math.exp(-0.4))"),
    ("log_prob_deep_learning", "test_log_prob_deep_learning", "log base 10",
     "log_prob_deep_learning = math.log10(math.exp(-0.7)) + math.log10(math.exp(-0.4))"),
    # exercise 2: the targets of a batch
    ("next_token_targets", "test_next_token_targets", "off-by-one shift", targets_answer("""
targets = ids[:, :-1].clone()
targets[targets == pad_id] = IGNORE_INDEX
return targets
""")),
    ("next_token_targets", "test_next_token_targets", "no shift at all", targets_answer("""
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
    ("token_log_probs", "test_token_log_probs", "underflowed softmax",
     token_answer("log_probs = torch.log(torch.softmax(logits, dim=-1))" + PICK)),
    ("token_log_probs", "test_token_log_probs", "including pad positions", token_answer("""
log_probs = torch.log_softmax(logits, dim=-1)
return log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
""")),
    ("token_log_probs", "test_token_log_probs", "probabilities, not log-probabilities",
     token_answer("log_probs = torch.softmax(logits, dim=-1)" + PICK)),
    ("token_log_probs", "test_token_log_probs", "raw logits",
     token_answer("log_probs = logits" + PICK)),
    ("token_log_probs", "test_token_log_probs", "wrong dimension",
     token_answer("log_probs = torch.log_softmax(logits, dim=1)" + PICK)),
    ("token_log_probs", "test_token_log_probs", "log base 2",
     token_answer("log_probs = torch.log2(torch.softmax(logits.double(), dim=-1))" + PICK)),
    ("token_log_probs", "test_token_log_probs", "sign error",
     token_answer("log_probs = -torch.log_softmax(logits, dim=-1)" + PICK)),
    # exercise 4: per-sequence log-likelihoods
    ("sequence_log_likelihoods", "test_sequence_log_likelihoods", "including pad positions",
     sequence_answer("""
log_probs = torch.log_softmax(logits, dim=-1)
return log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1).sum(-1)
""")),
    ("sequence_log_likelihoods", "test_sequence_log_likelihoods", "summing probabilities",
     sequence_answer(SEQUENCES + "return torch.where(targets != IGNORE_INDEX, token_lp.exp(), 0.0)"
                     ".sum(-1)")),
    ("sequence_log_likelihoods", "test_sequence_log_likelihoods", "product of probabilities",
     sequence_answer(SEQUENCES + "return token_lp.sum(-1).exp()")),
    ("sequence_log_likelihoods", "test_sequence_log_likelihoods", "averaging over each sequence",
     sequence_answer(SEQUENCES + "return token_lp.sum(-1) / (targets != IGNORE_INDEX).sum(-1)")),
    ("sequence_log_likelihoods", "test_sequence_log_likelihoods", "summing over the batch",
     sequence_answer(SEQUENCES + "return token_lp.sum(0)")),
    ("sequence_log_likelihoods", "test_sequence_log_likelihoods", "the batch total",
     sequence_answer(SEQUENCES + "return token_lp.sum()")),
    ("sequence_log_likelihoods", "test_sequence_log_likelihoods", "log base 2",
     sequence_answer(SEQUENCES + "return token_lp.sum(-1) / math.log(2)")),
    ("sequence_log_likelihoods", "test_sequence_log_likelihoods", "sign error",
     sequence_answer(SEQUENCES + "return -token_lp.sum(-1)")),
    ("sequence_log_likelihoods", "test_sequence_log_likelihoods", "underflowed softmax",
     sequence_answer("""
log_probs = torch.log(torch.softmax(logits, dim=-1))
picked = log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
return torch.where(targets != IGNORE_INDEX, picked, 0.0).sum(-1)
""")),
    # exercise 5: a stable log-softmax
    ("stable_log_softmax", "test_stable_log_softmax", "softmax that underflowed", softmax_answer("""
weights = (logits - logits.max(dim=-1, keepdim=True).values).exp()
return (weights / weights.sum(dim=-1, keepdim=True)).log()
""")),
    ("stable_log_softmax", "test_stable_log_softmax", "without subtracting the max",
     softmax_answer("""
return logits - logits.exp().sum(dim=-1, keepdim=True).log()
""")),
    ("stable_log_softmax", "test_stable_log_softmax", "inf / inf is nan", softmax_answer("""
return (logits.exp() / logits.exp().sum(dim=-1, keepdim=True)).log()
""")),
    ("stable_log_softmax", "test_stable_log_softmax", "wrong dimension", softmax_answer("""
shifted = logits - logits.max(dim=0, keepdim=True).values
return shifted - shifted.exp().sum(dim=0, keepdim=True).log()
""")),
    ("stable_log_softmax", "test_stable_log_softmax",
     "wrong dimension: the softmax runs over the last one (dim 1)",
     softmax_answer("""
shifted = logits - logits.max(dim=1, keepdim=True).values
return shifted - shifted.exp().sum(dim=1, keepdim=True).log()
""")),
    ("stable_log_softmax", "test_stable_log_softmax", "but not outside it", softmax_answer("""
shifted = logits - logits.max(dim=-1, keepdim=True).values
return logits - shifted.exp().sum(dim=-1, keepdim=True).log()
""")),
    ("stable_log_softmax", "test_stable_log_softmax", "probabilities, not their logs",
     softmax_answer("""
shifted = (logits - logits.max(dim=-1, keepdim=True).values).exp()
return shifted / shifted.sum(dim=-1, keepdim=True)
""")),
    ("stable_log_softmax", "test_stable_log_softmax", "sign error", softmax_answer("""
shifted = logits - logits.max(dim=-1, keepdim=True).values
return shifted.exp().sum(dim=-1, keepdim=True).log() - shifted
""")),
    ("stable_log_softmax", "test_stable_log_softmax", "log base 2", softmax_answer("""
shifted = logits - logits.max(dim=-1, keepdim=True).values
return (shifted - shifted.exp().sum(dim=-1, keepdim=True).log()) / math.log(2)
""")),
    # exercise 6: the summed loss of a batch
    ("negative_log_likelihood", "test_negative_log_likelihood", "sign error",
     loss_answer("return sequence_log_likelihoods(logits, targets).sum()")),
    ("negative_log_likelihood", "test_negative_log_likelihood", "default reduction",
     loss_answer("return F.cross_entropy(logits.flatten(0, 1), targets.flatten())")),
    ("negative_log_likelihood", "test_negative_log_likelihood", "the number of sequences B",
     loss_answer("return -sequence_log_likelihoods(logits, targets).sum() / logits.shape[0]")),
    ("negative_log_likelihood", "test_negative_log_likelihood", "divided by its length",
     loss_answer("""
lengths = (targets != IGNORE_INDEX).sum(-1)
return -(sequence_log_likelihoods(logits, targets) / lengths).sum()
""")),
    ("negative_log_likelihood", "test_negative_log_likelihood", "including pad positions",
     loss_answer("""
rows = logits.flatten(0, 1)
return F.cross_entropy(rows, targets.flatten().clamp(min=0), reduction="sum")
""")),
    ("negative_log_likelihood", "test_negative_log_likelihood", "log base 2",
     loss_answer("return -sequence_log_likelihoods(logits, targets).sum() / math.log(2)")),
    ("negative_log_likelihood", "test_negative_log_likelihood", "underflowed softmax",
     loss_answer("""
probs = torch.softmax(logits, dim=-1)
picked = probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
return -torch.where(targets != IGNORE_INDEX, picked.log(), 0.0).sum()
""")),
    ("negative_log_likelihood", "test_negative_log_likelihood", "cut off from the logits",
     loss_answer("return -sequence_log_likelihoods(logits, targets).sum().item()")),
    # the right value, as a new leaf tensor that requires grad: no gradient reaches the logits
    ("negative_log_likelihood", "test_negative_log_likelihood", "cut off from the logits",
     loss_answer("""
value = -sequence_log_likelihoods(logits, targets).sum().item()
return torch.tensor(value, requires_grad=True)
""")),
    ("negative_log_likelihood", "test_negative_log_likelihood", "cut off from the logits",
     loss_answer("""
loss = -sequence_log_likelihoods(logits.detach(), targets).sum()
return loss.clone().requires_grad_(True)
""")),
    # exercise 7: the gradient of the summed loss
    ("cross_entropy_grad", "test_cross_entropy_grad", "sign error",
     grad_answer(SCORED + ONE_HOT
                 + "return torch.where(scored, one_hot - torch.softmax(logits, -1), 0.0)")),
    ("cross_entropy_grad", "test_cross_entropy_grad", "forgetting e_y",
     grad_answer(SCORED + "return torch.where(scored, torch.softmax(logits, -1), 0.0)")),
    ("cross_entropy_grad", "test_cross_entropy_grad", "forgetting p_theta",
     grad_answer(SCORED + ONE_HOT + "return torch.where(scored, -one_hot, 0.0)")),
    ("cross_entropy_grad", "test_cross_entropy_grad", "including pad positions",
     grad_answer(ONE_HOT + "return torch.softmax(logits, -1) - one_hot")),
    ("cross_entropy_grad", "test_cross_entropy_grad", "mean over scored tokens",
     grad_answer(SCORED + ONE_HOT
                 + "grad = torch.where(scored, torch.softmax(logits, -1) - one_hot, 0.0)\n"
                 "return grad / scored.sum()")),
    ("cross_entropy_grad", "test_cross_entropy_grad", "log p_theta - e_y",
     grad_answer(SCORED + ONE_HOT
                 + "return torch.where(scored, torch.log_softmax(logits, -1) - one_hot, 0.0)")),
    # exercises 8 and 9: multiple choice
    ("answer_better_model", "test_answer_better_model", "closer to 0 is the larger",
     'answer_better_model = "a"'),
    ("answer_better_model", "test_answer_better_model", "dividing both totals by 100",
     'answer_better_model = "c"'),
    ("answer_better_model", "test_answer_better_model", "a loss of 200",
     'answer_better_model = "d"'),
    ("answer_flawed_calculation", "test_answer_flawed_calculation", "only prevents underflow",
     'answer_flawed_calculation = "a"'),
    ("answer_flawed_calculation", "test_answer_flawed_calculation", "averaging over the tokens",
     'answer_flawed_calculation = "c"'),
    ("answer_flawed_calculation", "test_answer_flawed_calculation", "summing probabilities",
     'answer_flawed_calculation = "d"'),
]

ALTERNATIVE = {
    # a number: a float, a NumPy scalar or a 0-d tensor
    "log_prob_deep_learning": [
        "log_prob_deep_learning = math.log(math.exp(-0.7) * math.exp(-0.4))",
        "log_prob_deep_learning = np.float64(-0.7) + np.float64(-0.4)",
        "log_prob_deep_learning = torch.tensor([-0.7, -0.4], dtype=torch.float64).sum()",
    ],
    "next_token_targets": [targets_answer("""
B, T = ids.shape
targets = torch.empty(B, T - 1, dtype=ids.dtype)
for b in range(B):
    for t in range(T - 1):
        token = int(ids[b, t + 1])
        targets[b, t] = IGNORE_INDEX if token == pad_id else token
return targets
"""), targets_answer("""
shifted = ids[:, 1:]
return shifted.masked_fill(shifted == pad_id, IGNORE_INDEX)
""")],
    "token_log_probs": [token_answer("""
B, T, V = logits.shape
out = torch.zeros(B, T)
for b in range(B):
    for t in range(T):
        target = int(targets[b, t])
        if target != IGNORE_INDEX:
            out[b, t] = logits[b, t, target] - torch.logsumexp(logits[b, t], dim=0)
return out
"""), token_answer("""
scored = targets != IGNORE_INDEX
log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
picked = torch.take_along_dim(log_probs, targets.masked_fill(~scored, 0)[..., None], dim=-1)
return picked[..., 0] * scored
""")],
    "sequence_log_likelihoods": [sequence_answer("""
B, T, V = logits.shape
per_token = F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T), reduction="none")
return -per_token.reshape(B, T).sum(dim=1)
"""), sequence_answer("""
return torch.stack([token_log_probs(logits[b:b + 1], targets[b:b + 1]).sum()
                    for b in range(len(logits))])
""")],
    "stable_log_softmax": [softmax_answer("""
return logits - torch.logsumexp(logits, dim=-1, keepdim=True)
"""), softmax_answer("""
m = logits.amax(dim=-1, keepdim=True)
return logits - (m + torch.log(torch.sum(torch.exp(logits - m), dim=-1, keepdim=True)))
""")],
    "negative_log_likelihood": [loss_answer("""
log_probs = stable_log_softmax(logits)
scored = targets != IGNORE_INDEX
picked = torch.take_along_dim(log_probs, targets.masked_fill(~scored, 0)[..., None], dim=-1)[..., 0]
return -(picked * scored).sum()
"""), loss_answer("""
return -sequence_log_likelihoods(logits, targets).sum()
""")],
    "cross_entropy_grad": [grad_answer("""
grad = torch.softmax(logits, dim=-1).clone()
for b in range(targets.shape[0]):
    for t in range(targets.shape[1]):
        target = int(targets[b, t])
        if target == IGNORE_INDEX:
            grad[b, t] = 0.0
        else:
            grad[b, t, target] -= 1.0
return grad
"""), grad_answer("""
e_y = torch.eye(logits.shape[-1], dtype=logits.dtype)[targets.clamp(min=0)]
return (torch.softmax(logits, dim=-1) - e_y) * (targets != IGNORE_INDEX)[..., None]
""")],
    # a letter, in any case
    "answer_better_model": ['answer_better_model = " B "', 'answer_better_model = "B"'],
    "answer_flawed_calculation": ['answer_flawed_calculation = "B"',
                                  'answer_flawed_calculation = " b"'],
}
