"""Kept answers for lesson 06 (see solutions/README.md): typical wrong answers and differently
written correct ones."""

# exact_match_accuracy with the comparison and the reduction a wrong answer chooses.
_ACCURACY = '''
def exact_match_accuracy(answers, truths):
    right = [{compare} for a, y in zip(answers, truths)]
    return {reduce}
'''
# repeated_mistake_share with the prompts counted and the denominator a wrong answer chooses.
_REPEATED = '''
def repeated_mistake_share(truths, teacher_answers, student_answers):
    rows = list(zip(truths, teacher_answers, student_answers))
    mistakes = [(y, a, s) for y, a, s in rows if a != y]
    return {share}
'''

WRONG = [
    ("answer_direct_effect", "test_answer_direct_effect", "no notion of truth",
     'answer_direct_effect = "a"'),
    ("answer_direct_effect", "test_answer_direct_effect", "response tokens only",
     'answer_direct_effect = "c"'),
    ("answer_direct_effect", "test_answer_direct_effect", "lengths of D's answers",
     'answer_direct_effect = "d"'),
    # the parts of the objective: each slip on its own, the other parts right
    ("answer_parts", "test_answer_parts", "not the arg max itself",
     'answer_parts = ["e", "b", "d", "a", "c"]'),
    ("answer_parts", "test_answer_parts", "where the search ends",
     'answer_parts = ["g", "e", "d", "a", "c"]'),
    ("answer_parts", "test_answer_parts", "arg max is the choosing",
     'answer_parts = ["b", "b", "d", "a", "c"]'),
    ("answer_parts", "test_answer_parts", "the sum over D runs over the pairs",
     'answer_parts = ["b", "d", "e", "a", "c"]'),
    ("answer_parts", "test_answer_parts", "the log is what turns",
     'answer_parts = ["b", "e", "c", "a", "d"]'),
    ("answer_parts", "test_answer_parts", "conditions on x",
     'answer_parts = ["b", "e", "d", "f", "c"]'),
    ("answer_parts", "test_answer_parts", "the log is applied to it", 'answer_parts = "bedca"'),
    ("answer_parts", "test_answer_parts", "it is not the probability",
     'answer_parts = ["b", "e", "d", "a", "a"]'),
    ("answer_cost_per_correct_pair", "test_answer_cost_per_correct_pair", "one reviewed draft",
     "answer_cost_per_correct_pair = 0.10 + 4.00"),
    ("answer_cost_per_correct_pair", "test_answer_cost_per_correct_pair",
     "multiplying by the share kept",
     "answer_cost_per_correct_pair = (0.10 + 4.00) * 0.80"),
    ("answer_cost_per_correct_pair", "test_answer_cost_per_correct_pair", "the share thrown away",
     "answer_cost_per_correct_pair = (0.10 + 4.00) / 0.20"),
    ("answer_cost_per_correct_pair", "test_answer_cost_per_correct_pair",
     "leaving out the drafting",
     "answer_cost_per_correct_pair = 4.00 / 0.80"),
    ("answer_cost_per_correct_pair", "test_answer_cost_per_correct_pair",
     "reviewing only the drafts that are kept",
     "answer_cost_per_correct_pair = 0.10 / 0.80 + 4.00"),
    ("answer_cost_per_correct_pair", "test_answer_cost_per_correct_pair", "the model's cost alone",
     "answer_cost_per_correct_pair = 0.10 / 0.80"),
    ("answer_cost_per_correct_pair", "test_answer_cost_per_correct_pair", "an expert-written pair",
     "answer_cost_per_correct_pair = 40"),
    ("answer_cost_per_correct_pair", "test_answer_cost_per_correct_pair", "price in cents",
     "answer_cost_per_correct_pair = (10 + 4) / 0.8"),
    ("answer_legal_dataset", "test_answer_legal_dataset", "does not scale",
     'answer_legal_dataset = "a"'),
    ("answer_legal_dataset", "test_answer_legal_dataset", "weak model's unchecked answers",
     'answer_legal_dataset = "c"'),
    ("answer_legal_dataset", "test_answer_legal_dataset", "no (x, y) pairs",
     'answer_legal_dataset = "d"'),
    ("exact_match_accuracy", "test_exact_match_accuracy", "the number of right answers",
     _ACCURACY.format(compare="a == y", reduce="sum(right)")),
    ("exact_match_accuracy", "test_exact_match_accuracy", "the share of wrong answers",
     _ACCURACY.format(compare="a != y", reduce="sum(right) / len(right)")),
    ("exact_match_accuracy", "test_exact_match_accuracy", "a cut-off or partial answer",
     _ACCURACY.format(compare="a in y", reduce="sum(right) / len(right)")),
    ("exact_match_accuracy", "test_exact_match_accuracy", "the first words compared only",
     _ACCURACY.format(compare="a.split()[0] == y.split()[0]", reduce="sum(right) / len(right)")),
    ("exact_match_accuracy", "test_exact_match_accuracy", "partial credit for the words", '''
def exact_match_accuracy(answers, truths):
    scores = [sum(u == v for u, v in zip(a.split(), y.split())) / len(y.split())
              for a, y in zip(answers, truths)]
    return sum(scores) / len(scores)
'''),
    ("exact_match_accuracy", "test_exact_match_accuracy", "the words compared in any order",
     _ACCURACY.format(compare="sorted(a.split()) == sorted(y.split())",
                      reduce="sum(right) / len(right)")),
    ("exact_match_accuracy", "test_exact_match_accuracy", "the words compared in any order",
     _ACCURACY.format(compare="set(a.split()) == set(y.split())",
                      reduce="sum(right) / len(right)")),
    ("repeated_mistake_share", "test_repeated_mistake_share", "divided by all the prompts",
     _REPEATED.format(share="sum(s == a for y, a, s in mistakes) / len(rows)")),
    ("repeated_mistake_share", "test_repeated_mistake_share", "the number of repeated mistakes",
     _REPEATED.format(share="sum(s == a for y, a, s in mistakes)")),
    ("repeated_mistake_share", "test_repeated_mistake_share", "the student's wrong answers counted",
     _REPEATED.format(share="sum(s != y for y, a, s in mistakes) / len(mistakes)")),
    ("repeated_mistake_share", "test_repeated_mistake_share", "agreement on all prompts",
     _REPEATED.format(share="sum(s == a for y, a, s in rows) / len(rows)")),
    ("repeated_mistake_share", "test_repeated_mistake_share", "teacher and student swapped", '''
def repeated_mistake_share(truths, teacher_answers, student_answers):
    mistakes = [k for k, (y, s) in enumerate(zip(truths, student_answers)) if s != y]
    return sum(teacher_answers[k] == student_answers[k] for k in mistakes) / len(mistakes)
'''),
    ("repeated_mistake_share", "test_repeated_mistake_share", "the share the student corrects",
     _REPEATED.format(share="sum(s == y for y, a, s in mistakes) / len(mistakes)")),
    ("repeated_mistake_share", "test_repeated_mistake_share", "the share not repeated",
     _REPEATED.format(share="sum(s != a for y, a, s in mistakes) / len(mistakes)")),
    ("repeated_mistake_share", "test_repeated_mistake_share", "left out at one end", '''
def repeated_mistake_share(truths, teacher_answers, student_answers):
    mistakes = [k for k in range(1, len(truths)) if teacher_answers[k] != truths[k]]
    return sum(student_answers[k] == teacher_answers[k] for k in mistakes) / len(mistakes)
'''),
    ("repeated_mistake_share", "test_repeated_mistake_share", "the teacher gets right", '''
def repeated_mistake_share(truths, teacher_answers, student_answers):
    right = [k for k, (y, a) in enumerate(zip(truths, teacher_answers)) if a == y]
    return sum(student_answers[k] == teacher_answers[k] for k in right) / len(right)
'''),
    ("answer_pretraining_protects", "test_answer_pretraining_protects", "whatever pretraining knew",
     "answer_pretraining_protects = True"),
    ("answer_pretraining_protects", "test_answer_pretraining_protects", "whatever pretraining knew",
     "answer_pretraining_protects = np.True_"),
]

ALTERNATIVE = {
    "answer_direct_effect": ['answer_direct_effect = "B"', 'answer_direct_effect = " b "'],
    "answer_parts": [
        'answer_parts = ("b", "e", "d", "a", "c")',
        'answer_parts = "BEDAC"',
        'answer_parts = [" B", "E ", "d", "a", "C"]',
    ],
    "answer_cost_per_correct_pair": [
        "answer_cost_per_correct_pair = 41 / 8",
        "answer_cost_per_correct_pair = np.float64(4.1) / np.float64(0.8)",
        "answer_cost_per_correct_pair = torch.tensor(5.125)",
        "answer_cost_per_correct_pair = np.array(5.125)",
        "answer_cost_per_correct_pair = 5.13  # rounded to cents by hand, as the text allows",
        "answer_cost_per_correct_pair = round((0.10 + 4.00) / 0.80, 2)  # Python's round: 5.12",
    ],
    "answer_legal_dataset": ['answer_legal_dataset = "B"', 'answer_legal_dataset = "b "'],
    "exact_match_accuracy": [
        '''
def exact_match_accuracy(answers, truths):
    right = 0
    for k in range(len(truths)):
        if answers[k] == truths[k]:
            right += 1
    return right / len(truths)
''',
        '''
def exact_match_accuracy(answers, truths):
    return np.mean(np.array(answers, dtype=object) == np.array(truths, dtype=object))
''',
        '''
def exact_match_accuracy(answers, truths):
    return torch.tensor([float(a == y) for a, y in zip(answers, truths)]).mean()
''',
    ],
    "repeated_mistake_share": [
        '''
def repeated_mistake_share(truths, teacher_answers, student_answers):
    y, a, s = (np.array(v, dtype=object) for v in (truths, teacher_answers, student_answers))
    wrong = a != y
    return np.mean(s[wrong] == a[wrong])
''',
        '''
def repeated_mistake_share(truths, teacher_answers, student_answers):
    repeated = mistakes = 0
    for y, a, s in zip(truths, teacher_answers, student_answers):
        if a != y:
            mistakes += 1
            repeated += s == a
    return repeated / mistakes
''',
    ],
    "answer_pretraining_protects": [
        "answer_pretraining_protects = np.False_",
        "answer_pretraining_protects = torch.tensor(False)",
        "answer_pretraining_protects = np.bool_(1 > 2)",
    ],
}
