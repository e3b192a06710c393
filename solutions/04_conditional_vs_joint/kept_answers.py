"""Kept answers for lesson 04 (see solutions/README.md): typical wrong answers and differently written correct ones."""

WRONG = [
    ("split_log_likelihood", "test_split_log_likelihood", "masking the response instead of the prompt", '''
def split_log_likelihood(token_log_probs, prompt_length):
    boundary = prompt_length - 1
    return token_log_probs[boundary:].sum().item(), token_log_probs[:boundary].sum().item()
'''),
    ("split_log_likelihood", "test_split_log_likelihood", "masking off by one at the boundary", '''
def split_log_likelihood(token_log_probs, prompt_length):
    return token_log_probs[:prompt_length].sum().item(), token_log_probs[prompt_length:].sum().item()
'''),
    ("answer_same_maximiser", "test_answer_same_maximiser", "not a constant", 'answer_same_maximiser = "c"'),
    ("answer_prompt_share", "test_answer_prompt_share", "leaving out <eos>", '''
_x = sum(len(x.split()) for x, _ in world.qa_train)
answer_prompt_share = _x / (_x + sum(len(y.split()) for _, y in world.qa_train))
'''),
    ("conditional_targets", "test_conditional_targets", "masking the response instead of the prompt", '''
def conditional_targets(ids, prompt_lengths, pad_id):
    targets = ids[:, 1:].clone()
    in_response = torch.arange(1, ids.shape[1])[None, :] >= torch.as_tensor(prompt_lengths)[:, None]
    targets[in_response | (targets == pad_id)] = IGNORE_INDEX
    return targets
'''),
    ("conditional_targets", "test_conditional_targets", "masking off by one at the boundary", '''
def conditional_targets(ids, prompt_lengths, pad_id):
    targets = ids[:, 1:].clone()
    in_prompt = torch.arange(1, ids.shape[1])[None, :] <= torch.as_tensor(prompt_lengths)[:, None]
    targets[in_prompt | (targets == pad_id)] = IGNORE_INDEX
    return targets
'''),
    ("masked_nll", "test_masked_nll", "normalising per batch", '''
def masked_nll(logits, targets):
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX)
'''),
    ("masked_nll", "test_masked_nll", "normalising per batch", '''
def masked_nll(logits, targets):
    total = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX, reduction="sum")
    return total / logits.shape[0]
'''),
    ("dialogue_targets", "test_dialogue_targets", "masking off by one at the boundary", '''
def dialogue_targets(ids, spans):
    targets = torch.full_like(ids[:, 1:], IGNORE_INDEX)
    for b, row in enumerate(spans):
        for start, end in row:
            targets[b, start:end] = ids[b, start:end][: targets.shape[1] - start]
    return targets
'''),
    ("answer_one_pass", "test_answer_one_pass", "acts on the targets", 'answer_one_pass = "b"'),
]

ALTERNATIVE = {
    "split_log_likelihood": '''
def split_log_likelihood(token_log_probs, prompt_length):
    prompt, response = 0.0, 0.0
    for t, value in enumerate(token_log_probs.tolist()):
        if t + 1 < prompt_length:
            prompt += value
        else:
            response += value
    return prompt, response
''',
    "conditional_targets": '''
def conditional_targets(ids, prompt_lengths, pad_id):
    B, T1 = ids.shape
    out = torch.full((B, T1 - 1), IGNORE_INDEX, dtype=ids.dtype)
    for b in range(B):
        for i in range(int(prompt_lengths[b]), T1):
            if ids[b, i] != pad_id:
                out[b, i - 1] = ids[b, i]
    return out
''',
    "masked_nll": '''
def masked_nll(logits, targets):
    log_probs = torch.log_softmax(logits, dim=-1)
    keep = targets != IGNORE_INDEX
    picked = log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return -(picked * keep).sum()
''',
    "dialogue_targets": '''
def dialogue_targets(ids, spans):
    keep = torch.zeros(ids.shape, dtype=torch.bool)
    for b, row in enumerate(spans):
        for start, end in row:
            keep[b, start:end] = True
    return torch.where(keep[:, 1:], ids[:, 1:], torch.full_like(ids[:, 1:], IGNORE_INDEX))
''',
}
