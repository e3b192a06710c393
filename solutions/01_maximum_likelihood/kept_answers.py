"""Kept answers for lesson 01_maximum_likelihood (see solutions/README.md): typical wrong answers, each
with the phrase its failure message must name, and correct answers written differently."""

WRONG = [
    # (answer_id, test_id, phrase the "Likely misconception:" line must contain, source)
    ("bernoulli_log_likelihood", "test_bernoulli_log_likelihood", "product of probabilities", '''
def bernoulli_log_likelihood(x, theta):
    return float(np.prod(np.where(np.asarray(x) == 1, theta, 1 - theta)))
'''),
    ("bernoulli_log_likelihood", "test_bernoulli_log_likelihood", "underflows", '''
def bernoulli_log_likelihood(x, theta):
    return float(np.log(np.prod(np.where(np.asarray(x) == 1, theta, 1 - theta))))
'''),
    ("bernoulli_log_likelihood", "test_bernoulli_log_likelihood", "log base 2", '''
def bernoulli_log_likelihood(x, theta):
    x = np.asarray(x)
    return float(np.sum(x * np.log2(theta) + (1 - x) * np.log2(1 - theta)))
'''),
    ("bernoulli_log_likelihood", "test_bernoulli_log_likelihood", "mean over terms", '''
def bernoulli_log_likelihood(x, theta):
    x = np.asarray(x)
    return float(np.mean(x * np.log(theta) + (1 - x) * np.log(1 - theta)))
'''),
    ("bernoulli_log_likelihood", "test_bernoulli_log_likelihood", "sign error", '''
def bernoulli_log_likelihood(x, theta):
    x = np.asarray(x)
    return float(-np.sum(x * np.log(theta) + (1 - x) * np.log(1 - theta)))
'''),
    ("bernoulli_mle", "test_bernoulli_mle", "fraction of Tails", '''
def bernoulli_mle(x):
    return float(np.mean(np.asarray(x) == 0))
'''),
    ("bernoulli_mle", "test_bernoulli_mle", "number of Heads", '''
def bernoulli_mle(x):
    return float(np.sum(x))
'''),
    ("answer_same_maximiser", "test_answer_same_maximiser", "mean instead of the sum", 'answer_same_maximiser = "b"'),
    ("answer_same_maximiser", "test_answer_same_maximiser", "sign error", 'answer_same_maximiser = "c"'),
    ("answer_same_maximiser", "test_answer_same_maximiser", "product of probabilities", 'answer_same_maximiser = "d"'),
    ("log_likelihood_gradient", "test_log_likelihood_gradient", "gradient of the loss", '''
def log_likelihood_gradient(x, theta):
    x = np.asarray(x)
    return float(np.sum((1 - x) / (1 - theta) - x / theta))
'''),
    ("log_likelihood_gradient", "test_log_likelihood_gradient", "mean over flips", '''
def log_likelihood_gradient(x, theta):
    x = np.asarray(x)
    return float(np.mean(x / theta - (1 - x) / (1 - theta)))
'''),
    ("log_likelihood_gradient", "test_log_likelihood_gradient", "log base 2", '''
def log_likelihood_gradient(x, theta):
    x = np.asarray(x)
    return float(np.sum(x / theta - (1 - x) / (1 - theta)) / np.log(2))
'''),
    ("log_likelihood_gradient", "test_log_likelihood_gradient", "derivative of the likelihood", '''
def log_likelihood_gradient(x, theta):
    h, n = int(np.sum(x)), len(x)
    # d/dtheta theta^h (1 - theta)^(n - h)
    return float(h * theta ** (h - 1) * (1 - theta) ** (n - h) - (n - h) * theta**h * (1 - theta) ** (n - h - 1))
'''),
    ("gradient_ascent", "test_gradient_ascent", "minimises the log-likelihood", '''
def gradient_ascent(x, theta, lr, steps):
    path = [theta]
    for _ in range(steps):
        theta = theta - lr * log_likelihood_gradient(x, theta)
        path.append(theta)
    return np.array(path)
'''),
    ("answer_variance_bound", "test_answer_variance_bound", "without dividing by n", "answer_variance_bound = 0.3 * 0.7"),
    ("answer_variance_bound", "test_answer_variance_bound", "standard deviation", "answer_variance_bound = (0.3 * 0.7 / 100) ** 0.5"),
    ("answer_variance_bound", "test_answer_variance_bound", "n I(theta) itself", "answer_variance_bound = 100 / (0.3 * 0.7)"),
    ("cross_entropy", "test_cross_entropy", "arguments swapped", '''
def cross_entropy(p, q):
    return float(-np.sum(np.asarray(q) * np.log(p)))
'''),
    ("cross_entropy", "test_cross_entropy", "log base 2", '''
def cross_entropy(p, q):
    return float(-np.sum(np.asarray(p) * np.log2(q)))
'''),
    ("cross_entropy", "test_cross_entropy", "sign error", '''
def cross_entropy(p, q):
    return float(np.sum(np.asarray(p) * np.log(q)))
'''),
    ("kl_divergence", "test_kl_divergence", "arguments swapped", '''
def kl_divergence(p, q):
    p, q = np.asarray(p), np.asarray(q)
    return float(np.sum(q * np.log(q / p)))
'''),
    ("kl_divergence", "test_kl_divergence", "log base 2", '''
def kl_divergence(p, q):
    p, q = np.asarray(p), np.asarray(q)
    keep = p > 0
    return float(np.sum(p[keep] * np.log2(p[keep] / q[keep])))
'''),
    ("kl_divergence", "test_kl_divergence", "sign error", '''
def kl_divergence(p, q):
    p, q = np.asarray(p), np.asarray(q)
    keep = p > 0
    return float(np.sum(p[keep] * np.log(q[keep] / p[keep])))
'''),
    ("kl_divergence", "test_kl_divergence", "subtracts the entropy", '''
def kl_divergence(p, q):
    return float(-np.sum(np.asarray(p) * np.log(q)))
'''),
    ("answer_lm_objective_is_mse", "test_answer_lm_objective_is_mse", "Gaussian noise", "answer_lm_objective_is_mse = True"),
    ("softmax_regression_nll", "test_softmax_regression_nll", "mean over examples", '''
def softmax_regression_nll(W, X, y):
    return torch.nn.functional.cross_entropy(torch.tensor(X @ W), torch.tensor(y)).item()
'''),
    ("softmax_regression_nll", "test_softmax_regression_nll", "normaliser is missing", '''
def softmax_regression_nll(W, X, y):
    logits = X @ W
    return float(-np.sum(logits[np.arange(len(y)), y]))
'''),
    ("softmax_regression_nll", "test_softmax_regression_nll", "sign error", '''
def softmax_regression_nll(W, X, y):
    log_probs = torch.log_softmax(torch.tensor(X @ W), dim=1)
    return log_probs[torch.arange(len(y)), torch.tensor(y)].sum().item()
'''),
    ("softmax_regression_nll", "test_softmax_regression_nll", "log base 2", '''
def softmax_regression_nll(W, X, y):
    log_probs = torch.log_softmax(torch.tensor(X @ W), dim=1)
    return -log_probs[torch.arange(len(y)), torch.tensor(y)].sum().item() / math.log(2)
'''),
    ("answer_model_choice", "test_answer_model_choice", "reading the magnitude", 'answer_model_choice = "b"'),
    ("answer_model_choice", "test_answer_model_choice", "at most 0", 'answer_model_choice = "c"'),
    ("answer_model_choice", "test_answer_model_choice", "held-out data", 'answer_model_choice = "d"'),
]

ALTERNATIVE = {
    "bernoulli_log_likelihood": '''
def bernoulli_log_likelihood(x, theta):
    total = 0.0
    for flip in x:  # one term per flip
        total += math.log(theta) if flip == 1 else math.log(1 - theta)
    return total
''',
    "bernoulli_mle": '''
def bernoulli_mle(x):
    heads = sum(1 for flip in x if flip == 1)
    return heads / len(x)
''',
    "log_likelihood_gradient": '''
def log_likelihood_gradient(x, theta):
    h, n = int(np.sum(x)), len(x)
    return h / theta - (n - h) / (1 - theta)
''',
    "gradient_ascent": '''
def gradient_ascent(x, theta, lr, steps):
    path = np.empty(steps + 1)
    path[0] = theta
    for k in range(steps):
        path[k + 1] = path[k] + lr * log_likelihood_gradient(x, path[k])
    return path
''',
    "cross_entropy": '''
def cross_entropy(p, q):
    return -sum(p_x * math.log(q_x) for p_x, q_x in zip(p, q))
''',
    "kl_divergence": '''
def kl_divergence(p, q):
    return sum(p_x * math.log(p_x / q_x) for p_x, q_x in zip(p, q) if p_x > 0)
''',
    "softmax_regression_nll": '''
def softmax_regression_nll(W, X, y):
    logits = torch.tensor(X @ W)  # (N, K)
    return torch.nn.functional.cross_entropy(logits, torch.tensor(y), reduction="sum")
''',
    "answer_same_maximiser": 'answer_same_maximiser = "A"',
    "answer_variance_bound": "answer_variance_bound = 0.0021",
    "answer_model_choice": 'answer_model_choice = " a"',
}
