"""Kept answers for lesson 01_maximum_likelihood (see solutions/README.md): typical wrong answers,
each with the phrase its failure message must name, and correct answers written differently, one or
more for every form an exercise's text allows (a number: float, NumPy scalar, 0-d tensor; a
sequence: list, tuple, array, tensor; a letter in either case; True/False from Python, NumPy or
torch)."""

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
    ("bernoulli_log_likelihood", "test_bernoulli_log_likelihood", "log base 10", '''
def bernoulli_log_likelihood(x, theta):
    x = np.asarray(x)
    return float(np.sum(x * np.log10(theta) + (1 - x) * np.log10(1 - theta)))
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
    ("bernoulli_log_likelihood", "test_bernoulli_log_likelihood", "Pr(Tails)", '''
def bernoulli_log_likelihood(x, theta):
    x = np.asarray(x)
    return float(np.sum(x * np.log(1 - theta) + (1 - x) * np.log(theta)))
'''),
    ("bernoulli_mle", "test_bernoulli_mle", "fraction of Tails", '''
def bernoulli_mle(x):
    return float(np.mean(np.asarray(x) == 0))
'''),
    ("bernoulli_mle", "test_bernoulli_mle", "number of Heads", '''
def bernoulli_mle(x):
    return float(np.sum(x))
'''),
    ("answer_same_maximiser", "test_answer_same_maximiser", "mean instead of the sum",
     'answer_same_maximiser = "b"'),
    ("answer_same_maximiser", "test_answer_same_maximiser", "sign error",
     'answer_same_maximiser = "c"'),
    ("answer_same_maximiser", "test_answer_same_maximiser", "product of probabilities",
     'answer_same_maximiser = "d"'),
    ("log_likelihood_gradient", "test_log_likelihood_gradient", "gradient of the loss", '''
def log_likelihood_gradient(x, theta):
    x = np.asarray(x)
    return float(np.sum((1 - x) / (1 - theta) - x / theta))
'''),
    ("log_likelihood_gradient", "test_log_likelihood_gradient", "chain rule", '''
def log_likelihood_gradient(x, theta):
    x = np.asarray(x)
    return float(np.sum(x / theta + (1 - x) / (1 - theta)))
'''),
    ("log_likelihood_gradient", "test_log_likelihood_gradient", "Pr(Tails)", '''
def log_likelihood_gradient(x, theta):
    x = np.asarray(x)
    return float(np.sum((1 - x) / theta - x / (1 - theta)))
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
    return float(h * theta ** (h - 1) * (1 - theta) ** (n - h)
                 - (n - h) * theta**h * (1 - theta) ** (n - h - 1))
'''),
    ("gradient_ascent", "test_gradient_ascent", "minimises it", '''
def gradient_ascent(x, theta, lr, steps):
    path = [theta]
    for _ in range(steps):
        theta = theta - lr * log_likelihood_gradient(x, theta)
        path.append(theta)
    return np.array(path)
'''),
    ("gradient_ascent", "test_gradient_ascent", "taken once", '''
def gradient_ascent(x, theta, lr, steps):
    step = lr * log_likelihood_gradient(x, theta)
    return np.array([theta + k * step for k in range(steps + 1)])
'''),
    ("gradient_ascent", "test_gradient_ascent", "leaves out theta_0", '''
def gradient_ascent(x, theta, lr, steps):
    path = []
    for _ in range(steps):
        theta = theta + lr * log_likelihood_gradient(x, theta)
        path.append(theta)
    return np.array(path)
'''),
    ("gradient_ascent", "test_gradient_ascent", "one step too many", '''
def gradient_ascent(x, theta, lr, steps):
    path = [theta]
    for _ in range(steps + 1):
        theta = theta + lr * log_likelihood_gradient(x, theta)
        path.append(theta)
    return np.array(path)
'''),
    # 100 thetas, like "leaves out theta_0", but the last one is missing: once misnamed
    ("gradient_ascent", "test_gradient_ascent", "one step too few", '''
def gradient_ascent(x, theta, lr, steps):
    path = []
    for _ in range(steps):
        path.append(theta)
        theta = theta + lr * log_likelihood_gradient(x, theta)
    return np.array(path)
'''),
    ("gradient_ascent", "test_gradient_ascent", "only the last theta", '''
def gradient_ascent(x, theta, lr, steps):
    for _ in range(steps):
        theta = theta + lr * log_likelihood_gradient(x, theta)
    return theta
'''),
    ("answer_variance_bound", "test_answer_variance_bound", "not divided by N",
     "answer_variance_bound = 0.3 * 0.7"),
    ("answer_variance_bound", "test_answer_variance_bound", "standard deviation",
     "answer_variance_bound = (0.3 * 0.7 / 100) ** 0.5"),
    ("answer_variance_bound", "test_answer_variance_bound", "N I(theta) itself",
     "answer_variance_bound = 100 / (0.3 * 0.7)"),
    ("cross_entropy", "test_cross_entropy", "arguments swapped", '''
def cross_entropy(p_data, p_theta):
    return float(-np.sum(np.asarray(p_theta) * np.log(p_data)))
'''),
    ("cross_entropy", "test_cross_entropy", "log base 2", '''
def cross_entropy(p_data, p_theta):
    return float(-np.sum(np.asarray(p_data) * np.log2(p_theta)))
'''),
    ("cross_entropy", "test_cross_entropy", "sign error", '''
def cross_entropy(p_data, p_theta):
    return float(np.sum(np.asarray(p_data) * np.log(p_theta)))
'''),
    ("cross_entropy", "test_cross_entropy", "weighted by p_data", '''
def cross_entropy(p_data, p_theta):
    return float(-np.sum(np.log(p_theta)))
'''),
    ("cross_entropy", "test_cross_entropy", "mean over outcomes", '''
def cross_entropy(p_data, p_theta):
    return float(-np.mean(np.asarray(p_data) * np.log(p_theta)))
'''),
    ("kl_divergence", "test_kl_divergence", "arguments swapped", '''
def kl_divergence(p_data, p_theta):
    p, q = np.asarray(p_data), np.asarray(p_theta)
    return float(np.sum(q * np.log(q / p)))
'''),
    ("kl_divergence", "test_kl_divergence", "log base 2", '''
def kl_divergence(p_data, p_theta):
    p, q = np.asarray(p_data), np.asarray(p_theta)
    keep = p > 0
    return float(np.sum(p[keep] * np.log2(p[keep] / q[keep])))
'''),
    ("kl_divergence", "test_kl_divergence", "sign error", '''
def kl_divergence(p_data, p_theta):
    p, q = np.asarray(p_data), np.asarray(p_theta)
    keep = p > 0
    return float(np.sum(p[keep] * np.log(q[keep] / p[keep])))
'''),
    ("kl_divergence", "test_kl_divergence", "subtracts the entropy", '''
def kl_divergence(p_data, p_theta):
    return float(-np.sum(np.asarray(p_data) * np.log(p_theta)))
'''),
    ("kl_divergence", "test_kl_divergence", "0 * log 0 is nan", '''
def kl_divergence(p_data, p_theta):
    p, q = np.asarray(p_data), np.asarray(p_theta)
    return float(np.sum(p * np.log(p / q)))
'''),
    ("kl_divergence", "test_kl_divergence", "mean over outcomes", '''
def kl_divergence(p_data, p_theta):
    p, q = np.asarray(p_data), np.asarray(p_theta)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.mean(np.where(p > 0, p * np.log(p / q), 0.0)))
'''),
    ("answer_fitted_variance", "test_answer_fitted_variance", "the second moment",
     "answer_fitted_variance = 0.6 * (0.25 + 1) + 0.4 * (0.25 + 9)"),
    ("answer_fitted_variance", "test_answer_fitted_variance", "the variance of one mode",
     "answer_fitted_variance = 0.25"),
    ("answer_fitted_variance", "test_answer_fitted_variance", "centres alone",
     "answer_fitted_variance = 0.6 * 1 + 0.4 * 9 - (0.6 * -1 + 0.4 * 3) ** 2"),
    ("answer_fitted_variance", "test_answer_fitted_variance", "standard deviation",
     "answer_fitted_variance = (0.25 + 0.24 * 16) ** 0.5"),
    ("answer_fitted_variance", "test_answer_fitted_variance", "s_k added",
     "answer_fitted_variance = 0.6 * (0.5 + 1) + 0.4 * (0.5 + 9) - (0.6 * -1 + 0.4 * 3) ** 2"),
    ("answer_lm_objective_is_mse", "test_answer_lm_objective_is_mse", "Gaussian noise",
     "answer_lm_objective_is_mse = True"),
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
    ("softmax_regression_nll", "test_softmax_regression_nll", "over the examples (axis 0)", '''
def softmax_regression_nll(W, X, y):
    logits = X @ W
    log_probs = logits - np.log(np.exp(logits).sum(axis=0, keepdims=True))
    return float(-np.sum(log_probs[np.arange(len(y)), y]))
'''),
    ("softmax_regression_nll", "test_softmax_regression_nll", "an overflow", '''
def softmax_regression_nll(W, X, y):
    logits = X @ W
    return float(np.sum(np.log(np.exp(logits).sum(axis=1)) - logits[np.arange(len(y)), y]))
'''),
    ("answer_heldout_choice", "test_answer_heldout_choice", "most flexible model",
     'answer_heldout_choice = "a"'),
    ("answer_heldout_choice", "test_answer_heldout_choice", "small gap",
     'answer_heldout_choice = "c"'),
    ("answer_heldout_choice", "test_answer_heldout_choice", "a density can exceed 1",
     'answer_heldout_choice = "d"'),
]

ALTERNATIVE = {
    "bernoulli_log_likelihood": [
        '''
def bernoulli_log_likelihood(x, theta):  # a loop, a Python float
    total = 0.0
    for flip in x:
        total += math.log(theta) if flip == 1 else math.log(1 - theta)
    return total
''',
        '''
def bernoulli_log_likelihood(x, theta):  # a NumPy scalar
    return np.log(np.where(np.asarray(x) == 1, theta, 1 - theta)).sum()
''',
        '''
def bernoulli_log_likelihood(x, theta):  # a 0-d tensor
    flips, theta = torch.as_tensor(x, dtype=torch.float64), torch.tensor(theta, dtype=torch.float64)
    return (flips * torch.log(theta) + (1 - flips) * torch.log1p(-theta)).sum()
''',
    ],
    "bernoulli_mle": [
        '''
def bernoulli_mle(x):  # a Python float
    heads = sum(1 for flip in x if flip == 1)
    return heads / len(x)
''',
        '''
def bernoulli_mle(x):  # a NumPy scalar
    return np.count_nonzero(x) / np.float64(len(x))
''',
        '''
def bernoulli_mle(x):  # a 0-d tensor
    return torch.as_tensor(x, dtype=torch.float64).mean()
''',
    ],
    "log_likelihood_gradient": [
        '''
def log_likelihood_gradient(x, theta):  # a Python float
    h, n = int(np.sum(x)), len(x)
    return h / theta - (n - h) / (1 - theta)
''',
        '''
def log_likelihood_gradient(x, theta):  # a NumPy scalar
    x = np.asarray(x, dtype=np.float64)
    return np.sum(np.where(x == 1, 1 / theta, -1 / (1 - theta)))
''',
        '''
def log_likelihood_gradient(x, theta):  # a 0-d tensor, from autograd
    theta = torch.tensor(float(theta), dtype=torch.float64, requires_grad=True)
    flips = torch.as_tensor(x, dtype=torch.float64)
    (flips * torch.log(theta) + (1 - flips) * torch.log(1 - theta)).sum().backward()
    return theta.grad
''',
    ],
    "gradient_ascent": [
        '''
def gradient_ascent(x, theta, lr, steps):  # an array filled in place
    path = np.empty(steps + 1)
    path[0] = theta
    for k in range(steps):
        path[k + 1] = path[k] + lr * log_likelihood_gradient(x, path[k])
    return path
''',
        '''
def gradient_ascent(x, theta, lr, steps):  # a list
    path = [theta]
    while len(path) <= steps:
        path.append(path[-1] + lr * log_likelihood_gradient(x, path[-1]))
    return path
''',
        '''
def gradient_ascent(x, theta, lr, steps):  # a tuple
    path = (theta,)
    for _ in range(steps):
        path += (path[-1] + lr * log_likelihood_gradient(x, path[-1]),)
    return path
''',
        '''
def gradient_ascent(x, theta, lr, steps):  # a tensor
    path = torch.empty(steps + 1, dtype=torch.float64)
    path[0] = theta
    for k in range(steps):
        path[k + 1] = path[k].item() + lr * float(log_likelihood_gradient(x, path[k].item()))
    return path
''',
    ],
    "answer_same_maximiser": ['answer_same_maximiser = "A"', 'answer_same_maximiser = " a "'],
    "answer_variance_bound": [
        "answer_variance_bound = 0.0021",
        "answer_variance_bound = np.float64(0.3) * 0.7 / 100",
        "answer_variance_bound = torch.tensor(0.3 * 0.7 / 100)",
    ],
    "cross_entropy": [
        '''
def cross_entropy(p_data, p_theta):  # a loop, a Python float
    return -sum(p * math.log(q) for p, q in zip(p_data, p_theta))
''',
        '''
def cross_entropy(p_data, p_theta):  # a NumPy scalar
    return -np.dot(p_data, np.log(p_theta))
''',
        '''
def cross_entropy(p_data, p_theta):  # a 0-d tensor
    return -(torch.as_tensor(p_data) * torch.log(torch.as_tensor(p_theta))).sum()
''',
    ],
    "kl_divergence": [
        '''
def kl_divergence(p_data, p_theta):  # a loop, a Python float
    return sum(p * math.log(p / q) for p, q in zip(p_data, p_theta) if p > 0)
''',
        '''
def kl_divergence(p_data, p_theta):  # a NumPy scalar
    p, q = np.asarray(p_data), np.asarray(p_theta)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * np.log(p / q), 0.0).sum()
''',
        '''
def kl_divergence(p_data, p_theta):  # a 0-d tensor
    p, q = torch.as_tensor(p_data), torch.as_tensor(p_theta)
    return torch.special.xlogy(p, p / q).sum()
''',
    ],
    "answer_fitted_variance": [
        "answer_fitted_variance = 4.09",
        "answer_fitted_variance = np.float64(0.5**2 + 0.6 * 0.4 * (3 - -1) ** 2)",
        "answer_fitted_variance = torch.tensor(4.09)",
    ],
    "answer_lm_objective_is_mse": [
        "answer_lm_objective_is_mse = bool(0)",
        "answer_lm_objective_is_mse = np.False_",
        "answer_lm_objective_is_mse = torch.tensor(False)",
    ],
    "softmax_regression_nll": [
        '''
def softmax_regression_nll(W, X, y):  # a 0-d tensor
    logits = torch.tensor(X @ W)  # (N, K)
    return torch.nn.functional.cross_entropy(logits, torch.tensor(y), reduction="sum")
''',
        '''
def softmax_regression_nll(W, X, y):  # a loop, a Python float
    total = 0.0
    for row, label in zip(X @ W, y):
        top = max(row)
        total += top + math.log(sum(math.exp(z - top) for z in row)) - row[label]
    return total
''',
        '''
def softmax_regression_nll(W, X, y):  # a NumPy scalar
    logits = X @ W
    return np.sum(np.logaddexp.reduce(logits, axis=1) - logits[np.arange(len(y)), y])
''',
    ],
    "answer_heldout_choice": ['answer_heldout_choice = "B"', 'answer_heldout_choice = " b "'],
}
