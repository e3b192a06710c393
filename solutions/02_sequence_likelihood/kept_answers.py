"""Kept answers for lesson 02_sequence_likelihood (see solutions/README.md): typical wrong answers,
each with the phrase its failure message must name, and correct answers written differently, one or
more for every form an exercise's text allows."""


def rows_answer(expression: str) -> str:
    """An answer cell defining rows_are_distributions(probs) that returns `expression` of `p`."""
    return ("def rows_are_distributions(probs):\n"
            "    p = np.asarray(probs, dtype=float)\n"
            f"    return {expression}\n")


def sequence_answer(body: str) -> str:
    """An answer cell defining sequence_log_likelihood(model, tokens) with `body`, given the
    ids `ids` = <s> y_1 ... y_n and the number of predicted tokens `n`."""
    lines = "\n".join("    " + line for line in body.strip("\n").splitlines())
    return ("def sequence_log_likelihood(model, tokens):\n"
            "    ids = [model.vocab.bos_id] + model.vocab.ids(tokens)\n"
            "    n = len(tokens)\n" + lines + "\n")


def sequential_answer(ids: str, prefixes: str, targets: str,
                      reduce: str = "rows[np.arange(len(targets)), targets].sum()") -> str:
    """An answer cell defining sequential_log_likelihood(model, dataset) that builds `ids` per
    sequence, collects `prefixes` and `targets` over the dataset, asks the model once and returns
    `reduce`."""
    return (f"def sequential_log_likelihood(model, dataset):\n"
            f"    prefixes, targets = [], []\n"
            f"    for tokens in dataset:\n"
            f"        {ids}\n"
            f"        prefixes += {prefixes}\n"
            f"        targets += {targets}\n"
            f"    rows = model.next_log_probs(prefixes)\n"
            f"    return float({reduce})\n")


def perplexity_answer(n_tokens: str, value: str) -> str:
    """An answer cell defining perplexity(model, dataset) from the summed log-likelihood `total`
    and a token count `n_tokens`, returning `value`."""
    return ("def perplexity(model, dataset):\n"
            "    total = dataset_log_likelihood(model, dataset)\n"
            f"    n_tokens = {n_tokens}\n"
            f"    return {value}\n")


def counts_answer(ids: str, update: str = "counts[previous, token] += 1") -> str:
    """An answer cell defining bigram_counts(dataset, vocab) that counts the pairs of `ids` per
    sequence."""
    return ("def bigram_counts(dataset, vocab):\n"
            "    counts = np.zeros((len(vocab), len(vocab)))\n"
            "    for tokens in dataset:\n"
            f"        ids = {ids}\n"
            "        for previous, token in zip(ids[:-1], ids[1:]):\n"
            f"            {update}\n"
            "    return counts\n")


def conditional_answer(expression: str) -> str:
    """An answer cell defining conditional_probabilities(counts) that returns `expression` of
    `c`."""
    return ("def conditional_probabilities(counts):\n"
            "    c = np.asarray(counts, dtype=float)\n"
            f"    return {expression}\n")


SEQ_IDS = "ids = [model.vocab.bos_id] + model.vocab.ids(tokens)"
ALL_PREFIXES = "[ids[:t] for t in range(1, len(ids))]"

PICK = "rows = model.next_log_probs({prefixes})\nterms = rows[np.arange(len(rows)), {targets}]\n"
RIGHT = PICK.format(prefixes="[ids[:t] for t in range(1, n + 1)]", targets="ids[1:]")

WRONG = [
    # (answer_id, test_id, phrase the "Likely misconception:" line must contain, source)
    ("rows_are_distributions", "test_rows_are_distributions", "checking columns",
     rows_answer("(p >= 0).all(axis=0) & np.isclose(p.sum(axis=0), 1)")),
    ("rows_are_distributions", "test_rows_are_distributions", "no check of the signs",
     rows_answer("np.isclose(p.sum(axis=1), 1)")),
    ("rows_are_distributions", "test_rows_are_distributions", "with == 1",
     rows_answer("(p >= 0).all(axis=1) & (p.sum(axis=1) == 1)")),
    ("rows_are_distributions", "test_rows_are_distributions", "exponentiating",
     rows_answer("np.isclose(np.exp(p).sum(axis=1), 1)")),
    ("rows_are_distributions", "test_rows_are_distributions", "at most 1",
     rows_answer("(p >= 0).all(axis=1) & (p.sum(axis=1) <= 1)")),
    ("rows_are_distributions", "test_rows_are_distributions", "for the whole table",
     rows_answer("bool((p >= 0).all() and np.allclose(p.sum(axis=1), 1))")),
    ("sequence_log_likelihood", "test_sequence_log_likelihood", "leaving out <eos>",
     sequence_answer(PICK.format(prefixes="[ids[:t] for t in range(1, n)]", targets="ids[1:n]")
                     + "return float(terms.sum())")),
    ("sequence_log_likelihood", "test_sequence_log_likelihood", "<s> predicted",
     sequence_answer(PICK.format(prefixes="[[ids[0]] + ids[:t] for t in range(0, n + 1)]",
                                 targets="ids")
                     + "return float(terms.sum())")),
    ("sequence_log_likelihood", "test_sequence_log_likelihood", "Pr(y_t | y_<=t)",
     sequence_answer(PICK.format(prefixes="[ids[: t + 1] for t in range(1, n + 1)]",
                                 targets="ids[1:]")
                     + "return float(terms.sum())")),
    ("sequence_log_likelihood", "test_sequence_log_likelihood", "previous token only",
     sequence_answer(PICK.format(prefixes="[[ids[0]] + ids[max(1, t - 1):t] "
                                          "for t in range(1, n + 1)]",
                                 targets="ids[1:]") + "return float(terms.sum())")),
    ("sequence_log_likelihood", "test_sequence_log_likelihood", "all of log_probs[:, ids]",
     sequence_answer("rows = model.next_log_probs([ids[:t] for t in range(1, n + 1)])\n"
                     "return float(rows[:, ids[1:]].sum())")),
    ("sequence_log_likelihood", "test_sequence_log_likelihood", "product of probabilities",
     sequence_answer(RIGHT + "return float(np.prod(np.exp(terms)))")),
    ("sequence_log_likelihood", "test_sequence_log_likelihood", "log base 2",
     sequence_answer(RIGHT + "return float(terms.sum() / np.log(2))")),
    ("sequence_log_likelihood", "test_sequence_log_likelihood", "log base 10",
     sequence_answer(RIGHT + "return float(np.log10(np.exp(terms)).sum())")),
    ("sequence_log_likelihood", "test_sequence_log_likelihood", "mean over terms",
     sequence_answer(RIGHT + "return float(terms.mean())")),
    ("sequence_log_likelihood", "test_sequence_log_likelihood", "sign error",
     sequence_answer(RIGHT + "return float(-terms.sum())")),
    ("answer_steps_order", "test_answer_steps_order", "adding <s> and <eos> last",
     'answer_steps_order = "a"'),
    ("answer_steps_order", "test_answer_steps_order", "adding before picking",
     'answer_steps_order = "b"'),
    ("answer_steps_order", "test_answer_steps_order", "before the sequence is written out",
     'answer_steps_order = "d"'),
    ("dataset_log_likelihood", "test_dataset_log_likelihood", "the mean over sequences", '''
def dataset_log_likelihood(model, dataset):
    return float(np.mean([sequence_log_likelihood(model, tokens) for tokens in dataset]))
'''),
    ("dataset_log_likelihood", "test_dataset_log_likelihood", "the mean per token", '''
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
    ("dataset_log_likelihood", "test_dataset_log_likelihood", "log base 2", '''
def dataset_log_likelihood(model, dataset):
    return sum(sequence_log_likelihood(model, tokens) for tokens in dataset) / math.log(2)
'''),
    ("dataset_log_likelihood", "test_dataset_log_likelihood", "`return` inside the loop", '''
def dataset_log_likelihood(model, dataset):
    total = 0.0
    for tokens in dataset:
        total += sequence_log_likelihood(model, tokens)
        return total
'''),
    ("dataset_log_likelihood", "test_dataset_log_likelihood", "a repeated sequence counted once",
     """
def dataset_log_likelihood(model, dataset):
    return sum(sequence_log_likelihood(model, list(tokens)) for tokens in set(map(tuple, dataset)))
"""),
    ("answer_objective_change", "test_answer_objective_change", "sign error",
     "answer_objective_change = -2.5"),
    ("answer_objective_change", "test_answer_objective_change", "multiplying the likelihood",
     "answer_objective_change = math.exp(2.5)"),
    ("answer_objective_change", "test_answer_objective_change", "log base 2",
     "answer_objective_change = 2.5 / math.log(2)"),
    ("answer_objective_change", "test_answer_objective_change", "no change",
     "answer_objective_change = 0"),
    ("answer_long_sequences", "test_answer_long_sequences", "less* probable",
     'answer_long_sequences = "b"'),
    ("answer_long_sequences", "test_answer_long_sequences", "appears once",
     'answer_long_sequences = "c"'),
    ("answer_long_sequences", "test_answer_long_sequences", "at most 0",
     'answer_long_sequences = "d"'),
    ("perplexity", "test_perplexity", "not counting <eos>",
     perplexity_answer("sum(len(tokens) - 1 for tokens in dataset)",
                       "math.exp(-total / n_tokens)")),
    ("perplexity", "test_perplexity", "counting <s>",
     perplexity_answer("sum(len(tokens) + 1 for tokens in dataset)",
                       "math.exp(-total / n_tokens)")),
    ("perplexity", "test_perplexity", "averaging the sequences' perplexities", '''
def perplexity(model, dataset):
    return float(np.mean([math.exp(-sequence_log_likelihood(model, tokens) / len(tokens))
                          for tokens in dataset]))
'''),
    ("perplexity", "test_perplexity", "sign error",
     perplexity_answer("sum(len(tokens) for tokens in dataset)", "math.exp(total / n_tokens)")),
    ("perplexity", "test_perplexity", "NLL in bits",
     perplexity_answer("sum(len(tokens) for tokens in dataset)",
                       "math.exp(-total / math.log(2) / n_tokens)")),
    ("perplexity", "test_perplexity", "2 ** (NLL in nats)",
     perplexity_answer("sum(len(tokens) for tokens in dataset)", "2 ** (-total / n_tokens)")),
    ("perplexity", "test_perplexity", "without the exp",
     perplexity_answer("sum(len(tokens) for tokens in dataset)", "-total / n_tokens")),
    ("perplexity", "test_perplexity", "number of sequences",
     perplexity_answer("len(dataset)", "math.exp(-total / n_tokens)")),
    ("perplexity", "test_perplexity", "exp of the summed NLL",
     perplexity_answer("sum(len(tokens) for tokens in dataset)", "float(np.exp(-total))")),
    ("perplexity", "test_perplexity", "a repeated sequence counted once",
     perplexity_answer("sum(len(tokens) for tokens in set(map(tuple, dataset)))",
                       "math.exp(-sum(sequence_log_likelihood(model, list(tokens)) for tokens in "
                       "set(map(tuple, dataset))) / n_tokens)")),
    ("bigram_counts", "test_bigram_counts", "across sequence boundaries", '''
def bigram_counts(dataset, vocab):
    stream = [vocab.bos_id] + [i for tokens in dataset for i in vocab.ids(tokens)]
    counts = np.zeros((len(vocab), len(vocab)))
    for previous, token in zip(stream[:-1], stream[1:]):
        counts[previous, token] += 1
    return counts
'''),
    ("bigram_counts", "test_bigram_counts", "leaving out <s>", counts_answer("vocab.ids(tokens)")),
    ("bigram_counts", "test_bigram_counts", "leaving out <eos>",
     counts_answer("[vocab.bos_id] + vocab.ids(tokens[:-1])")),
    ("bigram_counts", "test_bigram_counts", "transposed",
     counts_answer("[vocab.bos_id] + vocab.ids(tokens)", "counts[token, previous] += 1")),
    ("bigram_counts", "test_bigram_counts", "a repeated sequence counted once", """
def bigram_counts(dataset, vocab):
    counts = np.zeros((len(vocab), len(vocab)))
    for tokens in {tuple(tokens) for tokens in dataset}:
        ids = [vocab.bos_id] + vocab.ids(list(tokens))
        for previous, token in zip(ids[:-1], ids[1:]):
            counts[previous, token] += 1
    return counts
"""),
    ("conditional_probabilities", "test_conditional_probabilities", "joint Pr(v, w)",
     conditional_answer("c / c.sum()")),
    ("conditional_probabilities", "test_conditional_probabilities", "normalising columns",
     conditional_answer(
        "np.divide(c, c.sum(axis=0, keepdims=True), out=np.zeros_like(c), "
        "where=c.sum(axis=0, keepdims=True) > 0)")),
    ("conditional_probabilities", "test_conditional_probabilities", "add-one smoothing",
     conditional_answer("(c + 1) / (c.sum(axis=1, keepdims=True) + c.shape[1])")),
    ("conditional_probabilities", "test_conditional_probabilities", "0/0 in a row with no counts",
     conditional_answer("c / c.sum(axis=1, keepdims=True)")),
    ("conditional_probabilities", "test_conditional_probabilities", "softmax of the counts",
     conditional_answer("np.exp(c) / np.exp(c).sum(axis=1, keepdims=True)")),
    ("sequential_log_likelihood", "test_sequential_log_likelihood", "leaving out <eos>",
     sequential_answer("ids = [model.vocab.bos_id] + model.vocab.ids(tokens[:-1])", ALL_PREFIXES,
                       "ids[1:]")),
    ("sequential_log_likelihood", "test_sequential_log_likelihood", "<s> predicted",
     sequential_answer(SEQ_IDS, "[[ids[0]] + ids[:t] for t in range(len(ids))]", "ids")),
    ("sequential_log_likelihood", "test_sequential_log_likelihood", "Pr(y_t | y_<=t)",
     sequential_answer(SEQ_IDS, "[ids[: t + 1] for t in range(1, len(ids))]", "ids[1:]")),
    ("sequential_log_likelihood", "test_sequential_log_likelihood", "mean over tokens",
     sequential_answer(SEQ_IDS, ALL_PREFIXES, "ids[1:]",
                       "rows[np.arange(len(targets)), targets].mean()")),
    ("sequential_log_likelihood", "test_sequential_log_likelihood", "mean over sequences",
     sequential_answer(SEQ_IDS, ALL_PREFIXES, "ids[1:]",
                       "rows[np.arange(len(targets)), targets].sum() / len(dataset)")),
    ("sequential_log_likelihood", "test_sequential_log_likelihood", "sign error",
     sequential_answer(SEQ_IDS, ALL_PREFIXES, "ids[1:]",
                       "-rows[np.arange(len(targets)), targets].sum()")),
    ("sequential_log_likelihood", "test_sequential_log_likelihood", "product of probabilities",
     sequential_answer(SEQ_IDS, ALL_PREFIXES, "ids[1:]",
                       "np.exp(rows[np.arange(len(targets)), targets]).prod()")),
    ("sequential_log_likelihood", "test_sequential_log_likelihood", "more than once", '''
def sequential_log_likelihood(model, dataset):
    return dataset_log_likelihood(model, dataset)
'''),
]

ALTERNATIVE = {
    "rows_are_distributions": [
        # a list of Python bools, from a loop
        '''
def rows_are_distributions(probs):
    verdicts = []
    for row in probs:
        verdicts.append(bool(min(row) >= 0 and abs(sum(row) - 1) < 1e-9))
    return verdicts
''',
        # a tuple
        '''
def rows_are_distributions(probs):
    return tuple(bool(np.all(row >= 0) and np.isclose(row.sum(), 1)) for row in np.asarray(probs))
''',
        # a torch tensor of booleans
        '''
def rows_are_distributions(probs):
    p = torch.as_tensor(probs, dtype=torch.float64)
    return (p >= 0).all(dim=1) & torch.isclose(p.sum(dim=1), torch.tensor(1.0, dtype=torch.float64))
''',
        # a NumPy array, another way
        '''
def rows_are_distributions(probs):
    p = np.asarray(probs, dtype=float)
    return np.logical_and(p.min(axis=1) >= 0, np.abs(p.sum(axis=1) - 1) <= 1e-6)
''',
    ],
    "sequence_log_likelihood": [
        # one call per token, a NumPy float
        '''
def sequence_log_likelihood(model, tokens):
    prefix = [model.vocab.bos_id]
    total = 0.0
    for token in tokens:  # one next-token distribution at a time
        next_id = model.vocab.id(token)
        total += model.next_log_probs([prefix])[0, next_id]
        prefix = prefix + [next_id]
    return total
''',
        # a 0-d tensor
        '''
def sequence_log_likelihood(model, tokens):
    ids = [model.vocab.bos_id] + model.vocab.ids(tokens)
    rows = torch.as_tensor(model.next_log_probs([ids[:t] for t in range(1, len(ids))]))
    return rows.gather(1, torch.tensor(ids[1:])[:, None]).sum()
''',
        # a Python float, with math.fsum
        '''
def sequence_log_likelihood(model, tokens):
    ids = [model.vocab.bos_id] + model.vocab.ids(tokens)
    rows = model.next_log_probs([ids[:t] for t in range(1, len(ids))])
    return math.fsum(float(row[token]) for row, token in zip(rows, ids[1:]))
''',
    ],
    "dataset_log_likelihood": [
        '''
def dataset_log_likelihood(model, dataset):
    total = 0.0
    for tokens in dataset:
        total = total + sequence_log_likelihood(model, tokens)
    return total
''',
        '''
def dataset_log_likelihood(model, dataset):
    return np.sum([sequence_log_likelihood(model, tokens) for tokens in dataset])
''',
        '''
def dataset_log_likelihood(model, dataset):
    return torch.tensor([float(sequence_log_likelihood(model, tokens)) for tokens in dataset]).sum()
''',
    ],
    "perplexity": [
        '''
def perplexity(model, dataset):
    nll_per_token = (-np.sum([sequence_log_likelihood(model, s) for s in dataset])
                     / np.sum([len(s) for s in dataset]))
    return np.exp(nll_per_token)
''',
        '''
def perplexity(model, dataset):
    bits = -dataset_log_likelihood(model, dataset) / math.log(2) / sum(map(len, dataset))
    return torch.tensor(2.0, dtype=torch.float64) ** bits
''',
        '''
def perplexity(model, dataset):
    return float(np.exp(-dataset_log_likelihood(model, dataset) / sum(len(s) for s in dataset)))
''',
    ],
    "bigram_counts": [
        '''
def bigram_counts(dataset, vocab):
    previous = [i for tokens in dataset for i in [vocab.bos_id] + vocab.ids(tokens[:-1])]
    following = [i for tokens in dataset for i in vocab.ids(tokens)]
    counts = np.zeros((len(vocab), len(vocab)), dtype=np.int64)
    np.add.at(counts, (previous, following), 1)
    return counts
''',
        '''
def bigram_counts(dataset, vocab):
    from collections import Counter
    pairs = Counter()
    for tokens in dataset:
        ids = [vocab.bos_id] + vocab.ids(tokens)
        pairs.update(zip(ids, ids[1:]))
    counts = np.zeros((len(vocab), len(vocab)))
    for (previous, token), count in pairs.items():
        counts[previous, token] = count
    return counts
''',
    ],
    "conditional_probabilities": [
        '''
def conditional_probabilities(counts):
    probs = np.zeros((len(counts), len(counts[0])))
    for v, row in enumerate(counts):
        total = sum(row)
        if total > 0:
            probs[v] = np.asarray(row) / total
    return probs
''',
        '''
def conditional_probabilities(counts):
    c = np.asarray(counts, dtype=float)
    totals = c.sum(axis=1, keepdims=True)
    return c / np.where(totals > 0, totals, 1)
''',
    ],
    "sequential_log_likelihood": [
        '''
def sequential_log_likelihood(model, dataset):
    seqs = [[model.vocab.bos_id] + model.vocab.ids(tokens) for tokens in dataset]
    pairs = [(ids[:t], ids[t]) for ids in seqs for t in range(1, len(ids))]
    log_probs = model.next_log_probs([prefix for prefix, _ in pairs])  # (N, V)
    targets = np.array([target for _, target in pairs])[:, None]       # (N, 1)
    return float(np.take_along_axis(log_probs, targets, axis=1).sum())
''',
        # a 0-d tensor
        '''
def sequential_log_likelihood(model, dataset):
    prefixes, targets = [], []
    for tokens in dataset:
        ids = [model.vocab.bos_id] + model.vocab.ids(tokens)
        for t in range(1, len(ids)):
            prefixes.append(ids[:t])
            targets.append(ids[t])
    rows = torch.as_tensor(model.next_log_probs(prefixes))
    return rows[torch.arange(len(targets)), torch.tensor(targets)].sum()
''',
        # a NumPy float
        '''
def sequential_log_likelihood(model, dataset):
    seqs = [[model.vocab.bos_id] + model.vocab.ids(tokens) for tokens in dataset]
    rows = model.next_log_probs([ids[:t] for ids in seqs for t in range(1, len(ids))])
    return np.sum(rows[np.arange(len(rows)), [i for ids in seqs for i in ids[1:]]])
''',
    ],
    "answer_steps_order": ['answer_steps_order = "C"', 'answer_steps_order = " c "'],
    "answer_objective_change": ["answer_objective_change = 5 / 2",
                                "answer_objective_change = np.float64(2.5)",
                                "answer_objective_change = torch.tensor(2.5)"],
    "answer_long_sequences": ['answer_long_sequences = "A"', 'answer_long_sequences = " a "'],
}
