"""Synthetic tasks with a controlled dependency span: generators, chance, and order-blind bounds.

Derived in "Long-range tasks". Every task is a classification read at the last position of a
sequence of n = Δ + 1 tokens, and its label is decided by the token at position 0, exactly
Δ = `span` positions before the position that is read:

- ``copy`` (recall the first token): positions 0 .. Δ - 1 hold values drawn independently
  and uniformly from ``vocab`` values, position Δ holds a query mark, and the label is
  the value at position 0. C = ``vocab`` classes.
- ``brackets`` (close the outermost bracket): position 0 opens a bracket of one of ``types``
  types, positions 1 .. Δ - 1 hold a random balanced string of brackets and blanks drawn
  without looking at it, and position Δ holds a query mark where the bracket that closes
  position 0 belongs. The label is its type. C = ``types`` classes.

In both, every token after position 0 is independent of the label, so a model whose output
at the last position cannot depend on position 0 (a path length of ``math.inf`` at distance
Δ) is at chance, 1 / C, by construction, however long it trains.

Data come from a seeded ``torch.Generator`` (no downloads): the same seed gives the same
batches on every run, and ``generator=None`` means ``torch.Generator().manual_seed(0)``.
``pathcost.training`` trains models on them.
"""

import math

import numpy as np
import torch
from torch import nn

from ..checks import is_int, require_choice, require_positive

TASKS = ("copy", "brackets")
DEFAULTS = {"copy": {"vocab": 8}, "brackets": {"types": 4}}
# Held-out data use seed + HELD_OUT. The CPU generator keeps only the low 32 bits of a seed
# (manual_seed(2**40) repeats manual_seed(0)), so seeds stay below 2**31 and the held-out
# seeds above: no held-out set ever repeats a run's training batches.
HELD_OUT = 2**31
MAX_SEED = 2**31 - 1


def task_params(task: str, **params) -> dict:
    """The task's parameters with defaults filled in; an unknown task or parameter is refused."""
    require_choice("task", task, TASKS)
    unknown = set(params) - set(DEFAULTS[task])
    if unknown:
        raise ValueError(f"task {task!r} takes {sorted(DEFAULTS[task])}, got {sorted(unknown)}")
    merged = {**DEFAULTS[task], **params}
    require_positive(**merged)
    for name, value in merged.items():
        if value < 2:
            raise ValueError(
                f"{name} must be >= 2, so that there is something to tell, got {value}"
            )
    return merged


def require_seed(seed) -> None:
    """Raise ValueError unless seed is an integer 0 .. MAX_SEED (see HELD_OUT)."""
    if not is_int(seed) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer 0 .. {MAX_SEED}, got {seed!r}")


def _generator(generator) -> torch.Generator:
    if generator is None:
        return torch.Generator().manual_seed(0)
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    return generator


def copy_first(span: int, batch: int, vocab: int = 8, generator=None):
    """Recall the first token: (inputs (batch, Δ + 1), targets (batch,)), targets = inputs[:, 0].

    With Δ = `span`: values 0 .. vocab - 1 drawn i.i.d. uniform at positions 0 .. Δ - 1; the
    query mark (token ``vocab``) at position Δ. The label sits Δ positions before the query.
    """
    require_positive(span=span, batch=batch)
    vocab = task_params("copy", vocab=vocab)["vocab"]
    generator = _generator(generator)
    values = torch.randint(vocab, (batch, span), generator=generator)  # (B, span)
    query = torch.full((batch, 1), vocab, dtype=torch.long)
    return torch.cat([values, query], dim=1), values[:, 0].clone()


def bracket_tokens(types: int = 4) -> dict:
    """Token ids of ``brackets``: opens 0 .. C-1, closes C .. 2C-1, blank 2C, query 2C + 1.

    C = `types`, the number of bracket types and of classes.
    """
    types = task_params("brackets", types=types)["types"]
    return {"open": 0, "close": types, "blank": 2 * types, "query": 2 * types + 1}


def brackets(span: int, batch: int, types: int = 4, generator=None):
    """Close the outermost bracket: (inputs (batch, Δ + 1), targets (batch,)).

    With Δ = `span`: position 0 opens a bracket of a type drawn uniformly from `types`.
    Positions 1 .. Δ - 1 are a balanced string built by a random walk on the depth that
    never looks at that type: at each position close (probability 0.4 when open brackets
    remain), open a bracket of a uniform type (0.4) or leave a blank (the rest), except that
    the walk closes whatever it must to end at depth 0. Position Δ is the query mark. The
    label is the first bracket's type, Δ positions back.
    """
    require_positive(span=span, batch=batch)
    ids = bracket_tokens(types)
    generator = _generator(generator)
    first = torch.randint(types, (batch,), generator=generator)  # (B,) the label
    inner = span - 1
    tokens = torch.empty(batch, inner, dtype=torch.long)
    stack = torch.zeros(batch, inner // 2 + 1, dtype=torch.long)  # open types, bottom first
    depth = torch.zeros(batch, dtype=torch.long)
    rows = torch.arange(batch)
    for p in range(inner):
        left = inner - p  # positions left, this one included
        u = torch.rand(batch, generator=generator)
        kind = torch.randint(types, (batch,), generator=generator)
        close = (depth >= left) | ((depth > 0) & (u < 0.4))
        opens = ~close & (depth <= left - 2) & (u >= 0.4) & (u < 0.8)
        top = stack[rows, (depth - 1).clamp(min=0)]
        blank = torch.full_like(kind, ids["blank"])
        tokens[:, p] = torch.where(
            close, ids["close"] + top, torch.where(opens, ids["open"] + kind, blank)
        )
        slot = depth.clamp(max=stack.shape[1] - 1)
        stack[rows, slot] = torch.where(opens, kind, stack[rows, slot])
        depth = depth + opens.long() - close.long()
    query = torch.full((batch, 1), ids["query"], dtype=torch.long)
    return torch.cat([(ids["open"] + first).unsqueeze(1), tokens, query], dim=1), first


def render(row, task: str, **params) -> str:
    """One sequence as text: values as letters a, b, ... (copy); brackets as ( [ { < ) ] } >,
    more types as letters, blanks as dots (brackets); the query mark as ?."""
    params = task_params(task, **params)
    if task == "copy":
        symbols = [chr(ord("a") + v) for v in range(params["vocab"])] + ["?"]
    else:
        k = params["types"]
        opens = "([{<" if k <= 4 else "".join(chr(ord("A") + t) for t in range(k))
        closes = ")]}>" if k <= 4 else "".join(chr(ord("a") + t) for t in range(k))
        symbols = list(opens[:k]) + list(closes[:k]) + [".", "?"]
    ids = torch.as_tensor(row).reshape(-1).tolist()  # a row, or a single label
    if any(not is_int(t) or not 0 <= t < len(symbols) for t in ids):
        raise ValueError(f"row must hold token ids 0 .. {len(symbols) - 1} of task {task!r}")
    return " ".join(symbols[t] for t in ids)


def sample(task: str, span: int, batch: int, generator=None, **params):
    """One batch (inputs, targets) of `task` ("copy" or "brackets") at span Δ = `span`."""
    params = task_params(task, **params)
    make = copy_first if task == "copy" else brackets
    return make(span, batch, generator=generator, **params)


def classes(task: str, **params) -> int:
    """How many labels the task has, C: ``vocab`` (copy) or ``types`` (brackets)."""
    params = task_params(task, **params)
    return params["vocab"] if task == "copy" else params["types"]


def tokens(task: str, **params) -> int:
    """How many distinct input tokens the task uses, the query mark included."""
    params = task_params(task, **params)
    return params["vocab"] + 1 if task == "copy" else 2 * params["types"] + 2


def chance(task: str, **params) -> float:
    """Chance accuracy a_chance = 1 / C: the labels are uniform, so no blind guess beats it."""
    return 1 / classes(task, **params)


def matching_opener(inputs: torch.Tensor, types: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """(position, type) of the open bracket that the last position must close, by a stack parser.

    The route independent of the generator: it reads the tokens only. Both are -1 in a row
    whose brackets do not match or where nothing is left open at the last position.
    """
    ids = bracket_tokens(types)
    if not isinstance(inputs, torch.Tensor) or inputs.dim() != 2 or inputs.is_floating_point():
        raise ValueError("inputs must be a 2-D tensor of token ids, shape (batch, n)")
    positions, kinds = [], []
    for row in inputs.tolist():
        stack, matched = [], True
        for p, token in enumerate(row[:-1]):
            if ids["open"] <= token < ids["close"]:
                stack.append((p, token - ids["open"]))
            elif ids["close"] <= token < ids["blank"]:
                matched = matched and bool(stack) and stack.pop()[1] == token - ids["close"]
        position, kind = stack[-1] if matched and stack else (-1, -1)
        positions.append(position)
        kinds.append(kind)
    return torch.tensor(positions), torch.tensor(kinds)


def bag_accuracy(span: int, vocab: int = 8) -> float:
    """The best accuracy on ``copy`` from the bag of tokens, order-blind: a_bag = E[max_v c_v] / Δ.

    Derived in "Long-range tasks", with Δ = `span` and C = `vocab`. A model that sees only
    how often each value occurs (c_v among the Δ values) knows that the first token is v
    with probability c_v / Δ, so its best guess is the most frequent value. The counts are
    multinomial(Δ, 1 / C); the distribution of max_v c_v is computed exactly from C
    independent Poisson(Δ / C) counts, each cut at the bound, conditioned on their sum
    being Δ.
    """
    require_positive(span=span)
    vocab = task_params("copy", vocab=vocab)["vocab"]
    rate = span / vocab
    c = np.arange(span + 1)
    log_gamma = np.array([math.lgamma(k + 1) for k in c])
    pmf = np.exp(c * math.log(rate) - rate - log_gamma)  # Poisson(rate) at 0 .. span
    at_span = math.exp(span * math.log(span) - span - math.lgamma(span + 1))  # Poisson(span)
    expected_max = 0.0
    for m in range(span):  # E[max] = sum over m >= 0 of P(max > m)
        power = np.array([1.0])
        for _ in range(vocab):
            power = np.convolve(power, np.where(c <= m, pmf, 0.0))[: span + 1]
        above = 1 - power[span] / at_span
        expected_max += above
        if above < 1e-15:
            break
    return float(expected_max / span)


def plurality_accuracy(inputs: torch.Tensor, targets: torch.Tensor, vocab: int = 8) -> float:
    """Measured accuracy of the bag guess on a ``copy`` batch: the most frequent value.

    Ties are shared: when several values tie and the label is one of them, the guess scores
    one over their number, its expected score over a random choice among the tied values.
    """
    vocab = task_params("copy", vocab=vocab)["vocab"]
    counts = nn.functional.one_hot(inputs[:, :-1], vocab + 1)[..., :vocab].sum(1)  # (B, vocab)
    tied = (counts == counts.max(dim=1, keepdim=True).values).float()
    return (tied.gather(1, targets.unsqueeze(1)).squeeze(1) / tied.sum(1)).mean().item()
