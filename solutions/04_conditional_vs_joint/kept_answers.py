"""Kept answers for lesson 04_conditional_vs_joint (format: solutions/README.md, "Kept answers").

WRONG holds one typical wrong answer for every misconception the lesson's checks name; ALTERNATIVE
holds correct answers written another way, one per form each exercise's text allows.
"""


def _function(name: str, signature: str, body: str) -> str:
    """The source of an answer cell defining `name(signature)` with `body` (indented here)."""
    lines = "\n".join("    " + line for line in body.strip("\n").splitlines())
    return f"def {name}({signature}):\n{lines}\n"


def split_answer(body: str) -> str:
    return _function("split_log_likelihood", "token_log_probs, prompt_length", body)


def conditional_answer(body: str) -> str:
    return _function("conditional_targets", "ids, prompt_lengths, pad_id", body)


def dialogue_answer(body: str) -> str:
    return _function("dialogue_targets", "ids, spans", body)


def packed_answer(body: str) -> str:
    return _function("packed_targets", "ids, bos_id, pad_id", body)


# conditional_targets with the prompt mask `in_prompt` computed by the line before
CONDITIONAL = """
targets = ids[:, 1:].clone()
targets[in_prompt | (targets == pad_id)] = IGNORE_INDEX
return targets
"""
TARGET_INDEX = ("index = torch.arange(1, ids.shape[1])[None, :]\n"
                "lengths = torch.as_tensor(prompt_lengths)[:, None]\n")
# dialogue_targets over the spans `chosen` (the line before picks them)
DIALOGUE = """
targets = torch.full_like(ids[:, 1:], IGNORE_INDEX)
for b, row in enumerate(chosen):
    for start, end in row:
        targets[b, start - 1:end - 1] = ids[b, start:end]
return targets
"""
PROMPT_COUNTS = """
x = sum(len(world.vocab.tokenize(p)) for p, _ in world.qa_train)
y = sum(len(world.vocab.tokenize(r)) for _, r in world.qa_train)
n = len(world.qa_train)
"""

WRONG = [
    # exercise 1: the two parts of log Pr(seq)
    ("split_log_likelihood", "test_split_log_likelihood",
     "masking the response instead of the prompt",
     split_answer("b = prompt_length - 1\n"
                  "return token_log_probs[b:].sum().item(), token_log_probs[:b].sum().item()")),
    ("split_log_likelihood", "test_split_log_likelihood",
     "first response token was counted in the prompt",
     split_answer("b = prompt_length\n"
                  "return token_log_probs[:b].sum().item(), token_log_probs[b:].sum().item()")),
    ("split_log_likelihood", "test_split_log_likelihood",
     "last prompt token was counted in the response",
     split_answer("b = prompt_length - 2\n"
                  "return token_log_probs[:b].sum().item(), token_log_probs[b:].sum().item()")),
    ("split_log_likelihood", "test_split_log_likelihood", "the mean of each part",
     split_answer("b = prompt_length - 1\n"
                  "return token_log_probs[:b].mean().item(), token_log_probs[b:].mean().item()")),
    ("split_log_likelihood", "test_split_log_likelihood", "probabilities, not log-probabilities",
     split_answer("b = prompt_length - 1\nreturn token_log_probs[:b].sum().exp().item(), "
                  "token_log_probs[b:].sum().exp().item()")),
    ("split_log_likelihood", "test_split_log_likelihood", "a sign error",
     split_answer("b = prompt_length - 1\n"
                  "return -token_log_probs[:b].sum().item(), -token_log_probs[b:].sum().item()")),
    # exercise 2: when do the objectives agree?
    ("answer_same_maximiser", "test_answer_same_maximiser", "do not decide it",
     'answer_same_maximiser = "a"'),
    ("answer_same_maximiser", "test_answer_same_maximiser", "not a constant",
     'answer_same_maximiser = "c"'),
    ("answer_same_maximiser", "test_answer_same_maximiser",
     "sufficient condition read as a necessary one",
     'answer_same_maximiser = "d"'),
    # exercise 3: the prompts' share
    ("answer_prompt_share", "test_answer_prompt_share", "scoring <s>",
     PROMPT_COUNTS + "answer_prompt_share = (x + n) / (x + y + 2 * n)"),
    ("answer_prompt_share", "test_answer_prompt_share", "leaving out <eos>",
     PROMPT_COUNTS + "answer_prompt_share = x / (x + y)"),
    ("answer_prompt_share", "test_answer_prompt_share", "the responses' share",
     PROMPT_COUNTS + "answer_prompt_share = (y + n) / (x + y + n)"),
    ("answer_prompt_share", "test_answer_prompt_share", "the ratio of prompt to response tokens",
     PROMPT_COUNTS + "answer_prompt_share = x / (y + n)"),
    ("answer_prompt_share", "test_answer_prompt_share", "counting characters", """
x = sum(len(p) for p, _ in world.qa_train)
answer_prompt_share = x / (x + sum(len(r) for _, r in world.qa_train))
"""),
    ("answer_prompt_share", "test_answer_prompt_share", "the mean of the pairs' own shares", """
tokens = world.vocab.tokenize
answer_prompt_share = np.mean([len(tokens(p)) / (len(tokens(p)) + len(tokens(r)) + 1)
                               for p, r in world.qa_train])
"""),
    # exercise 4: the label mask of a batch
    ("conditional_targets", "test_conditional_targets",
     "masking the response instead of the prompt",
     conditional_answer(TARGET_INDEX + "in_prompt = index >= lengths" + CONDITIONAL)),
    ("conditional_targets", "test_conditional_targets", "the first response token is ignored too",
     conditional_answer(TARGET_INDEX + "in_prompt = index <= lengths" + CONDITIONAL)),
    ("conditional_targets", "test_conditional_targets", "the last prompt token is scored",
     conditional_answer(TARGET_INDEX + "in_prompt = index < lengths - 1" + CONDITIONAL)),
    ("conditional_targets", "test_conditional_targets", "the <pad> targets are scored",
     conditional_answer(
        TARGET_INDEX + "targets = ids[:, 1:].clone()\ntargets[index < lengths] = IGNORE_INDEX\n"
        "return targets")),
    ("conditional_targets", "test_conditional_targets", "no shift", conditional_answer("""
index = torch.arange(ids.shape[1])[None, :]
targets = ids.clone()
targets[(index < torch.as_tensor(prompt_lengths)[:, None]) | (targets == pad_id)] = IGNORE_INDEX
return targets
""")),
    ("conditional_targets", "test_conditional_targets", "changing ids in place", conditional_answer(
        TARGET_INDEX + "targets = ids[:, 1:]\n"
        "targets[(index < lengths) | (targets == pad_id)] = IGNORE_INDEX\nreturn targets")),
    # exercise 5: the targets of a dialogue
    ("dialogue_targets", "test_dialogue_targets", "off by one", dialogue_answer("""
targets = torch.full_like(ids[:, 1:], IGNORE_INDEX)
for b, row in enumerate(spans):
    for start, end in row:
        targets[b, start:end] = ids[b, start:end][: targets.shape[1] - start]
return targets
""")),
    ("dialogue_targets", "test_dialogue_targets", "masking the assistant turns instead of the rest",
     dialogue_answer("chosen = spans" + DIALOGUE.replace(
         "return targets",
         "return torch.where(targets == IGNORE_INDEX, ids[:, 1:], IGNORE_INDEX)"))),
    ("dialogue_targets", "test_dialogue_targets", "only the last assistant turn",
     dialogue_answer("chosen = [row[-1:] for row in spans]" + DIALOGUE)),
    ("dialogue_targets", "test_dialogue_targets", "only the first assistant turn",
     dialogue_answer("chosen = [row[:1] for row in spans]" + DIALOGUE)),
    # exercise 6: why one pass is exact
    ("answer_one_pass", "test_answer_one_pass", "not independent", 'answer_one_pass = "a"'),
    ("answer_one_pass", "test_answer_one_pass", "acts on the targets", 'answer_one_pass = "b"'),
    ("answer_one_pass", "test_answer_one_pass", "trained or not", 'answer_one_pass = "d"'),
    # exercise 7: the targets of a packed row
    ("packed_targets", "test_packed_targets", "scoring the <s>", packed_answer("""
targets = ids[:, 1:].clone()
targets[targets == pad_id] = IGNORE_INDEX
return targets
""")),
    ("packed_targets", "test_packed_targets", "ignoring the <eos>", packed_answer("""
targets = ids[:, 1:].clone()
targets[(targets == bos_id) | (targets == pad_id) | (targets == 2)] = IGNORE_INDEX
return targets
""")),
    ("packed_targets", "test_packed_targets", "masking where the input is <s>", packed_answer("""
targets = ids[:, 1:].clone()
targets[(ids[:, :-1] == bos_id) | (targets == pad_id)] = IGNORE_INDEX
return targets
""")),
    ("packed_targets", "test_packed_targets", "the <pad> targets are scored", packed_answer("""
targets = ids[:, 1:].clone()
targets[targets == bos_id] = IGNORE_INDEX
return targets
""")),
    ("packed_targets", "test_packed_targets", "no shift", packed_answer("""
targets = ids.clone()
targets[(targets == bos_id) | (targets == pad_id)] = IGNORE_INDEX
return targets
""")),
    ("packed_targets", "test_packed_targets", "changing ids in place", packed_answer("""
targets = ids[:, 1:]
targets[(targets == bos_id) | (targets == pad_id)] = IGNORE_INDEX
return targets
""")),
]

ALTERNATIVE = {
    # a pair of numbers: a tuple or a list of two numbers, or a tensor of two
    "split_log_likelihood": [split_answer("""
prompt, response = 0.0, 0.0
for t, value in enumerate(token_log_probs.tolist()):
    if t + 1 < prompt_length:
        prompt += value
    else:
        response += value
return [prompt, response]
"""), split_answer("""
b = prompt_length - 1
return torch.stack([token_log_probs[:b].sum(), token_log_probs[b:].sum()])
"""), split_answer("""
b = prompt_length - 1
return token_log_probs[:b].sum(), token_log_probs[b:].sum()
""")],
    # a letter, in any case
    "answer_same_maximiser": ['answer_same_maximiser = "B"', 'answer_same_maximiser = " b "'],
    "answer_one_pass": ['answer_one_pass = "C"', 'answer_one_pass = " c"'],
    # a number: a float, a NumPy scalar or a 0-d tensor
    "answer_prompt_share": [PROMPT_COUNTS + "answer_prompt_share = np.float64(x) / (x + y + n)",
                            PROMPT_COUNTS + "answer_prompt_share = torch.tensor(x / (x + y + n))",
                            """
scored = prompt = 0
for x, y in world.qa_train:
    prompt += len(x.split())
    scored += len(x.split()) + len(y.split()) + 1
answer_prompt_share = prompt / scored
"""],
    "conditional_targets": [conditional_answer("""
B, T1 = ids.shape
out = torch.full((B, T1 - 1), IGNORE_INDEX, dtype=ids.dtype)
for b in range(B):
    for i in range(int(prompt_lengths[b]), T1):
        if ids[b, i] != pad_id:
            out[b, i - 1] = ids[b, i]
return out
"""), conditional_answer("""
after = ids[:, 1:]
index = torch.arange(1, ids.shape[1]).expand_as(after)
keep = (index >= torch.tensor(list(map(int, prompt_lengths)))[:, None]) & (after != pad_id)
return after.masked_fill(~keep, IGNORE_INDEX)
""")],
    "dialogue_targets": [dialogue_answer("""
keep = torch.zeros(ids.shape, dtype=torch.bool)
for b, row in enumerate(spans):
    for start, end in row:
        keep[b, start:end] = True
return torch.where(keep[:, 1:], ids[:, 1:], torch.full_like(ids[:, 1:], IGNORE_INDEX))
"""), dialogue_answer("""
B, T1 = ids.shape
out = [[IGNORE_INDEX] * (T1 - 1) for _ in range(B)]
for b, row in enumerate(spans):
    for start, end in row:
        for i in range(start, end):
            out[b][i - 1] = int(ids[b, i])
return torch.tensor(out)
""")],
    "packed_targets": [packed_answer("""
after = ids[:, 1:]
return torch.where((after == bos_id) | (after == pad_id), IGNORE_INDEX, after)
"""), packed_answer("""
rows = []
for row in ids.tolist():
    rows.append([IGNORE_INDEX if token in (bos_id, pad_id) else token for token in row[1:]])
return torch.tensor(rows)
""")],
}
