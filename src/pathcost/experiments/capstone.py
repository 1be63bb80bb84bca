"""The capstone: one data set, an LSTM, a Transformer and the advisor's pick, compared.

Derived in "Capstone". Two data sets in which every sequence's dependency span is known:

- ``mixed_recall`` (generated): n tokens, each a value from ``vocab``; one of them is
  marked, Δ positions before the last, which holds a query mark. The label is the marked
  value, so the span is Δ, drawn from ``span_probabilities``: a mix of local spans
  (1 .. local) and long ones (local + 1 .. n - 1) in a chosen share.
- ``stdlib_brackets`` (real): windows of the standard library's source, in token
  categories, each ending where a closing bracket belongs; the label is that bracket's
  type and the span the distance back to the bracket it closes (``advisor.corpus``).

A project has a fixed set of training sequences, so ``fit`` passes over one in epochs
(the article's "tens of thousands of samples" is a count of those) under a ``Budget`` of
steps and seconds, and measures what the article's call to action asks for: accuracy by
span bucket (held out), the peak memory of a training step, and the throughput. Models
are held to one parameter budget by ``width_for``; ``classifier_params`` is the count.
"""

import math
import time
import tokenize
from dataclasses import dataclass, field, replace
from keyword import iskeyword

import torch
from torch import nn
from tqdm.auto import tqdm

from ..advisor.corpus import _PAIRS, _paths, _read, _tokens
from ..checks import is_int, require_positive, require_real
from ..formulas.costs import params
from ..measure.memory import peak_bytes
from ..measure.traffic import tensor_bytes
from ..registry import require_spec
from ..runtime import synchronize
from ..specs import Hybrid, Transformer, body
from .tasks import require_seed
from .training import fit_batch, seeded_classifier

CATEGORIES = ("(", "[", "{", ")", "]", "}", "name", "keyword", "number", "string", "operator")
CLOSERS = (")", "]", "}")  # the labels of stdlib_brackets, in this order


@dataclass(frozen=True)
class SpanData:
    """Sequences with a known span each: inputs (count, n) token ids, targets (count,),
    spans (count,) the distance from the decisive token to the last position; tokens and
    classes size the model's embedding and readout."""

    inputs: torch.Tensor
    targets: torch.Tensor
    spans: torch.Tensor
    tokens: int
    classes: int

    def __len__(self) -> int:
        return len(self.targets)

    def rows(self, index) -> "SpanData":
        """The sequences at `index` (a slice or a tensor of row numbers)."""
        return replace(self, inputs=self.inputs[index], targets=self.targets[index],
                       spans=self.spans[index])  # fmt: skip


def span_probabilities(n: int, local: int, long_share: float) -> tuple:
    """The probability of each span Δ = 0 .. n - 1: (1 - long_share) spread evenly over
    1 .. local, long_share over local + 1 .. n - 1, nothing at 0.

    Derived in "Capstone".
    """
    require_positive(n=n, local=local)
    require_real("long_share", long_share, low=0, high=1)
    if local >= n - 1:
        raise ValueError(f"local must be below n - 1 = {n - 1}, so that long spans exist, "
                         f"got local={local}, n={n}")  # fmt: skip
    near, far = (1 - long_share) / local, long_share / (n - 1 - local)
    return (0.0,) + (near,) * local + (far,) * (n - 1 - local)


def mixed_recall(n: int, count: int, local: int = 4, long_share: float = 0.5,
                 vocab: int = 8, generator=None) -> SpanData:  # fmt: skip
    """Recall the marked value: `count` sequences of n tokens and their spans.

    Derived in "Capstone". Positions 0 .. n - 2 hold values 0 .. vocab - 1 drawn i.i.d.
    uniform; the value at n - 1 - Δ is marked (token vocab + value), the span Δ drawn from
    ``span_probabilities(n, local, long_share)``; position n - 1 holds the query mark
    (token 2 vocab). The label is the marked value, so only the marked token tells it.
    """
    require_positive(count=count, vocab=vocab)
    if vocab < 2:
        raise ValueError(f"vocab must be >= 2, so that there is something to tell, got {vocab}")
    probabilities = torch.tensor(span_probabilities(n, local, long_share))
    generator = torch.Generator().manual_seed(0) if generator is None else generator
    values = torch.randint(vocab, (count, n), generator=generator)
    spans = torch.multinomial(probabilities, count, replacement=True, generator=generator)
    rows, marked = torch.arange(count), n - 1 - spans
    targets = values[rows, marked].clone()
    values[rows, marked] += vocab
    values[:, -1] = 2 * vocab
    return SpanData(values, targets, spans, 2 * vocab + 1, vocab)


def _category(token) -> str:
    if token.type == tokenize.OP:
        return token.string if token.string in CATEGORIES[:6] else "operator"
    if token.type == tokenize.NAME:
        return "keyword" if iskeyword(token.string) else "name"
    return {tokenize.NUMBER: "number", tokenize.STRING: "string"}.get(token.type, "operator")


def _closings(tokens: list) -> list:
    """(index, opener index, type) of each closing bracket; ValueError if unmatched."""
    stack, found = [], []
    for index, token in enumerate(tokens):
        if token.type == tokenize.OP and token.string in "([{":
            stack.append((token.string, index))
        elif token.type == tokenize.OP and token.string in _PAIRS:
            if not stack or stack[-1][0] != _PAIRS[token.string]:
                raise ValueError(f"unmatched {token.string!r} at line {token.start[0]}")
            found.append((index, stack.pop()[1], CLOSERS.index(token.string)))
    return found


def stdlib_brackets(paths, n: int, limit: int | None = None) -> SpanData:
    """Close the bracket: a window of n tokens per closing bracket in the files.

    Derived in "Capstone". Each token is one of ``CATEGORIES`` (a bracket, or its kind:
    name, keyword, number, string, any other operator; comments and layout left out, as in
    ``advisor.corpus``). A window holds the n - 1 tokens before a closing bracket, then the
    query mark (token ``len(CATEGORIES)``) where the bracket belongs; its label is the
    bracket's type (``CLOSERS``) and its span the distance to the bracket it closes. Only
    brackets whose opener lies inside the window count; a file that does not tokenize or
    whose brackets do not match is skipped. limit: keep at most that many windows, evenly
    spaced over all of them in file order (None: all).
    """
    require_positive(n=n)
    if n < 2:
        raise ValueError(f"n must be >= 2 (a token and the query), got {n}")
    if limit is not None:
        require_positive(limit=limit)
    files, found = [], []  # token ids per file; (file, index, kind, span) per window
    for path in _paths(paths):
        source = _read(path)
        try:
            if source is None:
                continue
            tokens = _tokens(source)
            closings = _closings(tokens)
        except (SyntaxError, tokenize.TokenError, ValueError, RecursionError):
            continue
        files.append(torch.tensor([CATEGORIES.index(_category(t)) for t in tokens]))
        found += [(len(files) - 1, index, kind, index - opener)
                  for index, opener, kind in closings if index - opener <= n - 1 <= index]
    if not found:
        raise ValueError(f"paths hold no closing bracket with its opener within n - 1 = {n - 1}"
                         " tokens")  # fmt: skip
    if limit is not None and limit < len(found):
        found = [found[i * len(found) // limit] for i in range(limit)]
    query = torch.tensor([len(CATEGORIES)])
    inputs = torch.stack([torch.cat([files[f][i - n + 1: i], query]) for f, i, _, _ in found])
    return SpanData(inputs, torch.tensor([k for _, _, k, _ in found]),
                    torch.tensor([d for _, _, _, d in found]), len(CATEGORIES) + 1,
                    len(CLOSERS))  # fmt: skip


def classifier_params(spec, tokens: int, classes: int) -> int:
    """Parameters of ``training.Classifier(spec, tokens, classes)``: N + tokens d
    (the embedding) + d C + C (the readout), with C = `classes`.

    Derived in "Capstone"; N = params(spec), the spec's own parameters, is derived in
    "Counting compute".
    """
    require_positive(tokens=tokens, classes=classes)
    d = spec.d_model
    return params(spec) + tokens * d + d * classes + classes


def with_width(spec, d_model: int):
    """spec at width `d_model`: a Transformer's FFN width f scales with it (f `d_model` / d,
    d the spec's own width), a Hybrid's body is resized."""
    require_spec(spec)
    require_positive(d_model=d_model)
    if isinstance(spec, Hybrid):
        return replace(spec, then=with_width(spec.then, d_model), d_model=None, layers=None)
    if isinstance(spec, Transformer):
        return replace(spec, d_model=d_model, d_ff=max(1, spec.d_ff * d_model // spec.d_model))
    return replace(spec, d_model=d_model)


def width_for(spec, target: int, tokens: int, classes: int):
    """spec at the width whose ``classifier_params`` is nearest `target` (ties: the narrower).

    A Transformer's widths (a Hybrid's body's too) are multiples of its heads, and even
    when positional (sinusoids come in pairs), so the nearest is among those.
    """
    require_positive(target=target)
    step, sequence = 1, body(spec)  # a Hybrid's width is its body's
    if isinstance(sequence, Transformer):
        step = sequence.heads * (2 if sequence.positional and sequence.heads % 2 else 1)
    best, d = None, step
    while True:
        sized = with_width(spec, d)
        count = classifier_params(sized, tokens, classes)
        if best is None or abs(count - target) < abs(best[0] - target):
            best = (count, sized)
        if count > target:
            return best[1]
        d += step


@dataclass(frozen=True)
class Budget:
    """What one run may spend: at most `steps` Adam steps and, if seconds is not None, at
    most that much wall-clock time; batch sequences a step at learning rate lr."""

    steps: int
    batch: int
    lr: float
    seconds: float | None = None

    def __post_init__(self):
        require_positive(steps=self.steps, batch=self.batch)
        require_real("lr", self.lr, low=0, low_open=True)
        if self.seconds is not None:
            require_real("seconds", self.seconds, low=0, low_open=True)


@dataclass(frozen=True)
class Run:
    """One trained model, measured. peak_bytes: the weights, the Adam state and the peak of
    one steady training step above them; samples_per_s: training sequences a second;
    by_span: (low, high, count, accuracy) per span bucket of the held-out set; epochs: the
    training sequences it saw over the training set's size."""

    name: str
    spec: object
    params: int
    steps: int
    epochs: float
    seconds: float
    samples_per_s: float
    peak_bytes: int
    train_accuracy: float
    held_out_accuracy: float
    by_span: tuple
    model: nn.Module = field(repr=False, compare=False)


def _buckets(spans, edges) -> list:
    """(low, high) of each span bucket: cut at `edges`, spans above the last in a final one."""
    edges = list(edges)
    if not edges or any(not is_int(e) or e < 1 for e in edges) or edges != sorted(set(edges)):
        raise ValueError(f"edges must be increasing positive integers, got {edges!r}")
    top = int(spans.max())
    highs = edges + ([top] if top > edges[-1] else [])
    return list(zip([1] + [e + 1 for e in highs[:-1]], highs))


def accuracy_by_span(predicted, targets, spans, edges) -> tuple:
    """(low, high, count, accuracy) for spans in low .. high, the buckets cut at `edges`
    (each edge the last span of its bucket; spans above the last edge make a final one).
    An empty bucket has accuracy nan and count 0."""
    rows = []
    for low, high in _buckets(spans, edges):
        inside = (spans >= low) & (spans <= high)
        count = int(inside.sum())
        hits = (predicted[inside] == targets[inside]).float().mean().item() if count else math.nan
        rows.append((low, high, count, hits))
    return tuple(rows)


def majority_by_span(targets, spans, edges) -> tuple:
    """``accuracy_by_span`` of the guess that knows a sequence's span bucket and nothing
    else: the bucket's most frequent label (ties: the smallest). Derived in "Capstone"."""
    guess = torch.empty_like(targets)
    for low, high in _buckets(spans, edges):
        inside = (spans >= low) & (spans <= high)
        if inside.any():
            guess[inside] = torch.bincount(targets[inside]).argmax()
    return accuracy_by_span(guess, targets, spans, edges)


def leaders(runs, bucket: int | None = None) -> tuple:
    """(names, top): every run whose held-out accuracy (in span bucket `bucket`, or over all
    of it for None) is within two standard errors of the best accuracy a_best on n_held
    sequences, so a tie within the noise reads as one. Derived in "Capstone". The error is
    Agresti and Coull's, 2 sqrt(a' (1 - a') / (n_held + 4)) with
    a' = (a_best n_held + 2) / (n_held + 4), which stays above 0 at a_best = 1 (where the
    textbook sqrt(a_best (1 - a_best) / n_held) claims no noise at all).
    """
    scored = []
    for run in runs:
        if bucket is None:
            accuracy, count = run.held_out_accuracy, sum(c for _, _, c, _ in run.by_span)
        else:
            _, _, count, accuracy = run.by_span[bucket]
        if count:
            scored.append((accuracy, count, run.name))
    if not scored:
        raise ValueError("runs must hold at least one capstone.Run with sequences to score")
    top, count, _ = max(scored)
    q = (top * count + 2) / (count + 4)
    noise = 2 * math.sqrt(q * (1 - q) / (count + 4))
    return tuple(name for accuracy, _, name in scored if accuracy >= top - noise), top


def _accuracy(model, data: SpanData, device, batch: int = 1024) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(data.inputs[i: i + batch].to(device)).argmax(-1).cpu()
                          for i in range(0, len(data), batch)])  # fmt: skip


def fit(name: str, spec, train: SpanData, held_out: SpanData, budget: Budget, edges,
        seed: int = 0, device=None, progress: bool = False) -> Run:  # fmt: skip
    """Train a Classifier of spec on `train` in epochs, shuffled by `seed`, and measure it.

    Derived in "Capstone". Adam, cross-entropy, gradient norm clipped at 1, until
    budget.steps or budget.seconds runs out. The second step (the first steady one, its
    optimizer state made) is measured for its peak (``measure.memory.peak_bytes``); the
    clock stops for it, as the profiler slows that step on the CPU. train_accuracy is read
    on the first len(held_out) training sequences.
    """
    require_spec(spec)
    require_seed(seed)
    if not isinstance(budget, Budget) or budget.steps < 2:
        raise ValueError(f"budget must be a capstone.Budget of 2 steps or more (the second is "
                         f"measured), got {budget!r}")  # fmt: skip
    if (train.tokens, train.classes) != (held_out.tokens, held_out.classes):
        raise ValueError("train and held_out must come from the same task (tokens, classes)")
    device = torch.device("cpu") if device is None else torch.device(device)
    model = seeded_classifier(spec, train.tokens, train.classes, seed).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=budget.lr)
    order = torch.Generator().manual_seed(seed)

    def batches():
        while True:
            for rows in torch.randperm(len(train), generator=order).split(budget.batch):
                yield train.inputs[rows].to(device), train.targets[rows].to(device)

    steps, spent, peak, timed, seen = 0, 0.0, 0, 0, 0
    bar = tqdm(total=budget.steps, desc=name, disable=not progress, leave=False)
    for inputs, targets in batches():
        if steps == budget.steps or (budget.seconds is not None and spent >= budget.seconds):
            break
        if steps == 1:
            peak = peak_bytes(lambda x=inputs, y=targets: fit_batch(model, optimizer, x, y), device)
        else:
            start = time.perf_counter()
            fit_batch(model, optimizer, inputs, targets)
            synchronize(device)
            spent += time.perf_counter() - start
            timed += len(targets)
        steps += 1
        seen += len(targets)
        bar.update()
    bar.close()
    persistent = tensor_bytes(list(model.parameters()) + list(optimizer.state.values()))
    predicted = _accuracy(model, held_out, device)
    first = train.rows(slice(0, len(held_out)))  # as many training rows as held-out ones
    trained = (_accuracy(model, first, device) == first.targets).float().mean().item()
    buckets = accuracy_by_span(predicted, held_out.targets, held_out.spans, edges)
    return Run(name, spec, sum(p.numel() for p in model.parameters()), steps, seen / len(train),
               spent,
               timed / spent, persistent + peak, trained,
               (predicted == held_out.targets).float().mean().item(), buckets, model)  # fmt: skip


def table(runs, digits: int = 2) -> list[dict]:
    """One row per Run for ``book.table``: its budget spent, its costs and its accuracies,
    a column per span bucket."""
    rows = []
    for run in runs:
        row = {"model": run.name, "parameters": run.params, "steps": run.steps,
               "epochs": round(run.epochs, 2),
               "sequences / s": round(run.samples_per_s),
               "peak (MiB)": round(run.peak_bytes / 2**20, 1),
               "train acc.": round(run.train_accuracy, digits),
               "held-out acc.": round(run.held_out_accuracy, digits)}  # fmt: skip
        for low, high, count, accuracy in run.by_span:
            row[f"span {low}-{high} (N={count})"] = round(accuracy, digits)
        rows.append(row)
    return rows


@dataclass(frozen=True)
class Setup:
    """One run size of the capstone: sequence length n, training and held-out sequences,
    the parameter budget, the span mix of ``mixed_recall``, the span buckets (their last
    spans), the standard-library files read (None: all) and each model's Budget."""

    n: int
    train: int
    held_out: int
    params: int
    local: int
    long_share: float
    edges: tuple
    files: int | None
    budget: Budget


SETUPS = {  # one per run size of registry.RUN_SIZES
    # quick: about 1.3 s a model on a 2-core laptop CPU, six models in the chapter's 30 s;
    # 4,096 training sequences, below the advisor's small_data threshold, as the article's
    # "tens of thousands of samples" case
    "quick": Setup(64, 4096, 512, 12_000, 4, 0.5, (4, 16), 60, Budget(10_000, 64, 1e-2, 1.0)),
    # full: for a Colab T4, about 10 minutes for the six models
    "full": Setup(512, 40_000, 4096, 200_000, 16, 0.5, (16, 64, 256), None,
                  Budget(50_000, 64, 1e-3, 90.0)),
}
