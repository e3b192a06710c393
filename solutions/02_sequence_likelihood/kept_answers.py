"""Kept answers for lesson 02_sequence_likelihood (see solutions/README.md): typical wrong answers, each
with the phrase its failure message must name, and correct answers written differently."""


def sequence_answer(body: str) -> str:
    """An answer cell defining sequence_log_likelihood(model, tokens) with `body`, given the
    ids `ids` = <s> y_1 ... y_n and the number of predicted tokens `n`."""
    lines = "\n".join("    " + line for line in body.strip("\n").splitlines())
    return ("def sequence_log_likelihood(model, tokens):\n"
            "    ids = [model.vocab.bos_id] + model.vocab.ids(tokens)\n"
            "    n = len(tokens)\n" + lines + "\n")


def sequential_answer(ids: str, prefixes: str, targets: str, reduce: str = "sum") -> str:
    """An answer cell defining sequential_log_likelihood(model, dataset) that builds `ids` per
    sequence, collects `prefixes` and `targets` over the dataset and reduces the picked entries."""
    return (f"def sequential_log_likelihood(model, dataset):\n"
            f"    prefixes, targets = [], []\n"
            f"    for tokens in dataset:\n"
            f"        {ids}\n"
            f"        prefixes += {prefixes}\n"
            f"        targets += {targets}\n"
            f"    rows = model.next_log_probs(prefixes)\n"
            f"    return float(rows[np.arange(len(targets)), targets].{reduce}())\n")


SEQ_IDS = "ids = [model.vocab.bos_id] + model.vocab.ids(tokens)"

PICK = "rows = model.next_log_probs({prefixes})\nterms = rows[np.arange(len(rows)), {targets}]\n"

WRONG = [
    # (answer_id, test_id, phrase the "Likely misconception:" line must contain, source)
    ("sequence_log_likelihood", "test_sequence_log_likelihood", "leaving out <eos>",
     sequence_answer(PICK.format(prefixes="[ids[:t] for t in range(1, n)]", targets="ids[1:n]") + "return float(terms.sum())")),
    ("sequence_log_likelihood", "test_sequence_log_likelihood", "<s> as a predicted token",
     sequence_answer(PICK.format(prefixes="[[ids[0]] + ids[:t] for t in range(0, n + 1)]", targets="ids") + "return float(terms.sum())")),
    ("sequence_log_likelihood", "test_sequence_log_likelihood", "Pr(y_t | y_<=t)",
     sequence_answer(PICK.format(prefixes="[ids[: t + 1] for t in range(1, n + 1)]", targets="ids[1:]") + "return float(terms.sum())")),
    ("sequence_log_likelihood", "test_sequence_log_likelihood", "previous token only",
     sequence_answer(PICK.format(prefixes="[[ids[0]] + ids[max(1, t - 1):t] for t in range(1, n + 1)]", targets="ids[1:]")
                     + "return float(terms.sum())")),
    ("sequence_log_likelihood", "test_sequence_log_likelihood", "product of probabilities",
     sequence_answer(PICK.format(prefixes="[ids[:t] for t in range(1, n + 1)]", targets="ids[1:]") + "return float(np.prod(np.exp(terms)))")),
    ("sequence_log_likelihood", "test_sequence_log_likelihood", "log base 2",
     sequence_answer(PICK.format(prefixes="[ids[:t] for t in range(1, n + 1)]", targets="ids[1:]") + "return float(terms.sum() / np.log(2))")),
    ("sequence_log_likelihood", "test_sequence_log_likelihood", "mean over terms",
     sequence_answer(PICK.format(prefixes="[ids[:t] for t in range(1, n + 1)]", targets="ids[1:]") + "return float(terms.mean())")),
    ("sequence_log_likelihood", "test_sequence_log_likelihood", "sign error",
     sequence_answer(PICK.format(prefixes="[ids[:t] for t in range(1, n + 1)]", targets="ids[1:]") + "return float(-terms.sum())")),
    ("dataset_log_likelihood", "test_dataset_log_likelihood", "averaging over sequences", '''
def dataset_log_likelihood(model, dataset):
    return float(np.mean([sequence_log_likelihood(model, tokens) for tokens in dataset]))
'''),
    ("dataset_log_likelihood", "test_dataset_log_likelihood", "average per token", '''
def dataset_log_likelihood(model, dataset):
    total = sum(sequence_log_likelihood(model, tokens) for tokens in dataset)
    return total / sum(len(tokens) for tokens in dataset)
'''),
    ("dataset_log_likelihood", "test_dataset_log_likelihood", "product of probabilities", '''
def dataset_log_likelihood(model, dataset):
    return float(np.prod([np.exp(sequence_log_likelihood(model, tokens)) for tokens in dataset]))
'''),
    ("dataset_log_likelihood", "test_dataset_log_likelihood", "sign error", '''
def dataset_log_likelihood(model, dataset):
    return -sum(sequence_log_likelihood(model, tokens) for tokens in dataset)
'''),
    ("answer_steps_order", "test_answer_steps_order", "adding <s> and <eos> last", 'answer_steps_order = ["c", "d", "a", "b"]'),
    ("answer_steps_order", "test_answer_steps_order", "adding before picking", 'answer_steps_order = ["b", "c", "a", "d"]'),
    ("answer_objective_change", "test_answer_objective_change", "sign error", "answer_objective_change = -2.5"),
    ("answer_objective_change", "test_answer_objective_change", "multiplying the likelihood", "answer_objective_change = math.exp(2.5)"),
    ("answer_objective_change", "test_answer_objective_change", "no change", "answer_objective_change = 0"),
    ("answer_long_sequences", "test_answer_long_sequences", "less* probable", 'answer_long_sequences = "b"'),
    ("answer_long_sequences", "test_answer_long_sequences", "appears once", 'answer_long_sequences = "c"'),
    ("answer_long_sequences", "test_answer_long_sequences", "at most 0", 'answer_long_sequences = "d"'),
    ("perplexity", "test_perplexity", "not counting <eos>", '''
def perplexity(model, dataset):
    n_tokens = sum(len(tokens) - 1 for tokens in dataset)
    return math.exp(-dataset_log_likelihood(model, dataset) / n_tokens)
'''),
    ("perplexity", "test_perplexity", "counting <s>", '''
def perplexity(model, dataset):
    n_tokens = sum(len(tokens) + 1 for tokens in dataset)
    return math.exp(-dataset_log_likelihood(model, dataset) / n_tokens)
'''),
    ("perplexity", "test_perplexity", "averaging per sequence", '''
def perplexity(model, dataset):
    return float(np.mean([math.exp(-sequence_log_likelihood(model, tokens) / len(tokens)) for tokens in dataset]))
'''),
    ("perplexity", "test_perplexity", "sign error", '''
def perplexity(model, dataset):
    return math.exp(dataset_log_likelihood(model, dataset) / sum(len(tokens) for tokens in dataset))
'''),
    ("perplexity", "test_perplexity", "log base 2", '''
def perplexity(model, dataset):
    bits = -dataset_log_likelihood(model, dataset) / math.log(2) / sum(len(tokens) for tokens in dataset)
    return math.exp(bits)
'''),
    ("bigram_counts", "test_bigram_counts", "across sequence boundaries", '''
def bigram_counts(dataset, vocab):
    stream = [vocab.bos_id] + [i for tokens in dataset for i in vocab.ids(tokens)]
    counts = np.zeros((len(vocab), len(vocab)))
    for previous, token in zip(stream[:-1], stream[1:]):
        counts[previous, token] += 1
    return counts
'''),
    ("bigram_counts", "test_bigram_counts", "leaving out <s>", '''
def bigram_counts(dataset, vocab):
    counts = np.zeros((len(vocab), len(vocab)))
    for tokens in dataset:
        ids = vocab.ids(tokens)
        for previous, token in zip(ids[:-1], ids[1:]):
            counts[previous, token] += 1
    return counts
'''),
    ("conditional_probabilities", "test_conditional_probabilities", "joint Pr(v, w)", '''
def conditional_probabilities(counts):
    counts = np.asarray(counts, dtype=float)
    return counts / counts.sum()
'''),
    ("conditional_probabilities", "test_conditional_probabilities", "normalising columns", '''
def conditional_probabilities(counts):
    counts = np.asarray(counts, dtype=float)
    totals = counts.sum(axis=0, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
'''),
    ("conditional_probabilities", "test_conditional_probabilities", "add-one smoothing", '''
def conditional_probabilities(counts):
    counts = np.asarray(counts, dtype=float)
    return (counts + 1) / (counts.sum(axis=1, keepdims=True) + counts.shape[1])
'''),
    ("sequential_log_likelihood", "test_sequential_log_likelihood", "leaving out <eos>",
     sequential_answer("ids = [model.vocab.bos_id] + model.vocab.ids(tokens[:-1])", "[ids[:t] for t in range(1, len(ids))]", "ids[1:]")),
    ("sequential_log_likelihood", "test_sequential_log_likelihood", "<s> as a predicted token",
     sequential_answer(SEQ_IDS, "[[ids[0]] + ids[:t] for t in range(len(ids))]", "ids")),
    ("sequential_log_likelihood", "test_sequential_log_likelihood", "Pr(y_t | y_<=t)",
     sequential_answer(SEQ_IDS, "[ids[: t + 1] for t in range(1, len(ids))]", "ids[1:]")),
    ("sequential_log_likelihood", "test_sequential_log_likelihood", "mean over tokens",
     sequential_answer(SEQ_IDS, "[ids[:t] for t in range(1, len(ids))]", "ids[1:]", reduce="mean")),
    ("sequential_log_likelihood", "test_sequential_log_likelihood", "sign error", '''
def sequential_log_likelihood(model, dataset):
    return -sum(sequence_log_likelihood(model, tokens) for tokens in dataset)
'''),
]

ALTERNATIVE = {
    "sequence_log_likelihood": '''
def sequence_log_likelihood(model, tokens):
    prefix = [model.vocab.bos_id]
    total = 0.0
    for token in tokens:  # one next-token distribution at a time
        next_id = model.vocab.id(token)
        total += model.next_log_probs([prefix])[0, next_id]
        prefix = prefix + [next_id]
    return total
''',
    "dataset_log_likelihood": '''
def dataset_log_likelihood(model, dataset):
    total = 0.0
    for tokens in dataset:
        total = total + sequence_log_likelihood(model, tokens)
    return total
''',
    "perplexity": '''
def perplexity(model, dataset):
    nll_per_token = -np.sum([sequence_log_likelihood(model, s) for s in dataset]) / np.sum([len(s) for s in dataset])
    return np.exp(nll_per_token)
''',
    "bigram_counts": '''
def bigram_counts(dataset, vocab):
    previous = [i for tokens in dataset for i in [vocab.bos_id] + vocab.ids(tokens[:-1])]
    following = [i for tokens in dataset for i in vocab.ids(tokens)]
    counts = np.zeros((len(vocab), len(vocab)), dtype=np.int64)
    np.add.at(counts, (previous, following), 1)
    return counts
''',
    "conditional_probabilities": '''
def conditional_probabilities(counts):
    probs = np.zeros((len(counts), len(counts[0])))
    for v, row in enumerate(counts):
        total = sum(row)
        if total > 0:
            probs[v] = np.asarray(row) / total
    return probs
''',
    "sequential_log_likelihood": '''
def sequential_log_likelihood(model, dataset):
    seqs = [[model.vocab.bos_id] + model.vocab.ids(tokens) for tokens in dataset]
    pairs = [(ids[:t], ids[t]) for ids in seqs for t in range(1, len(ids))]
    log_probs = model.next_log_probs([prefix for prefix, _ in pairs])  # (N, V)
    targets = np.array([target for _, target in pairs])[:, None]       # (N, 1)
    return float(np.take_along_axis(log_probs, targets, axis=1).sum())
''',
    "answer_steps_order": 'answer_steps_order = ("B", "C", "D", "A")',
    "answer_objective_change": "answer_objective_change = 5 / 2",
    "answer_long_sequences": 'answer_long_sequences = "A"',
}
