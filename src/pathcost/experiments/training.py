"""Training on the synthetic tasks: a classifier around any spec, a seeded trainer, sweeps.

Derived in "Long-range tasks". ``train`` wraps ``models.build(spec)`` in a classifier
(embedding -> the spec's module -> a linear readout of the last position), trains it with
Adam on fresh batches of a task and returns its accuracy on a held-out set drawn from
another seed. The training budget of a run is a ``Budget``; ``BUDGETS`` holds one per run
size of ``registry.RUN_SIZES``.
"""

import contextlib
import multiprocessing
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from ..checks import require_choice, require_module_input, require_positive, require_real
from ..models import build
from ..registry import label, require_spec
from ..runtime import threads as cpu_threads
from .tasks import HELD_OUT, classes, require_seed, sample, task_params, tokens

CHUNK = 50  # training batches drawn at once: one loop over positions serves 50 steps


class Classifier(nn.Module):
    """Token embedding -> the spec's module -> a linear readout of the last position."""

    def __init__(self, spec, tokens: int, classes: int):
        super().__init__()
        self.embed = nn.Embedding(tokens, spec.d_model)
        self.body = build(spec)
        self.readout = nn.Linear(spec.d_model, classes)

    def forward(self, inputs):  # inputs: (B, n) token ids
        features = self.body(self.embed(inputs))  # (B, n, d)
        return self.readout(features[:, -1])  # (B, classes)


def classifier(spec, task: str, seed: int = 0, **params) -> Classifier:
    """A fresh Classifier of `spec` for `task`, its weights drawn under `seed`.

    The caller's random state is left as it was.
    """
    params = task_params(task, **params)
    return seeded_classifier(spec, tokens(task, **params), classes(task, **params), seed)


def seeded_classifier(spec, tokens: int, classes: int, seed: int = 0) -> Classifier:
    """A fresh Classifier(spec, tokens, classes), its weights drawn under `seed`; the
    caller's random state is left as it was."""
    require_spec(spec)
    require_seed(seed)
    require_positive(tokens=tokens, classes=classes)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Classifier(spec, tokens, classes)


def fit_batch(model: nn.Module, optimizer, inputs, targets) -> None:
    """One training step on a batch: cross-entropy, backward, gradient norm clipped at 1,
    the optimizer's step, gradients cleared."""
    require_module_input(model, inputs)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer, got "
                         f"{type(optimizer).__name__}")  # fmt: skip
    loss = nn.functional.cross_entropy(model(inputs), targets)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


@dataclass(frozen=True)
class Budget:
    """The training budget of one run: Adam steps, batch size, learning rate, held-out rows."""

    steps: int
    batch: int
    lr: float
    held_out: int

    def __post_init__(self):
        require_positive(steps=self.steps, batch=self.batch, held_out=self.held_out)
        require_real("lr", self.lr, low=0, low_open=True)


BUDGETS = {  # one per run size of registry.RUN_SIZES
    # quick: well under a second a run on a laptop CPU ("Long-range tasks" trains 36 runs in
    # about 15 s); enough for the short spans only. Steps set the cost: a step of a model
    # this small is mostly fixed overhead, so halving the batch would save little
    "quick": Budget(steps=60, batch=64, lr=1.5e-2, held_out=1024),
    # full: for a GPU; the recurrences' step loops take most of the time
    "full": Budget(steps=2000, batch=128, lr=2e-3, held_out=4096),
}


def _budget(size) -> Budget:
    if isinstance(size, Budget):
        return size
    require_choice("size", size, BUDGETS)
    return BUDGETS[size]


def _batches(task: str, span: int, budget: Budget, seed: int, params: dict):
    """The training batches of one run, drawn CHUNK batches at a time from one seeded generator."""
    data = torch.Generator().manual_seed(seed)
    for start in range(0, budget.steps, CHUNK):
        count = min(CHUNK, budget.steps - start)
        inputs, targets = sample(task, span, count * budget.batch, data, **params)
        yield from zip(inputs.split(budget.batch), targets.split(budget.batch))


def train(
    spec,
    task: str,
    span: int,
    size="quick",
    seed: int = 0,
    device=None,
    progress: bool = False,
    threads: int | None = 1,
    **params,
) -> float:
    """Train a Classifier of `spec` on `task` at dependency span `span`; its held-out accuracy.

    size: a run size ("quick", "full") or a Budget. Adam on cross-entropy, one fresh batch
    per step from ``torch.Generator().manual_seed(seed)``, gradient norm clipped at 1; the
    held-out set comes from seed + HELD_OUT. On the CPU the run uses `threads` threads
    (restored after; None keeps torch's setting): one is as fast for models this small and
    makes the numbers repeat exactly from run to run.
    """
    require_spec(spec)
    require_positive(span=span)
    require_seed(seed)
    budget = _budget(size)
    params = task_params(task, **params)
    device = torch.device("cpu") if device is None else torch.device(device)
    if threads is not None:
        require_positive(threads=threads)
    keep = device.type != "cpu" or threads is None
    with contextlib.nullcontext() if keep else cpu_threads(threads):
        model = classifier(spec, task, seed=seed, **params).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=budget.lr)
        batches = _batches(task, span, budget, seed, params)
        name = f"{label(spec)}, span {span}"
        for inputs, targets in tqdm(
            batches, total=budget.steps, desc=name, disable=not progress, leave=False
        ):
            fit_batch(model, optimizer, inputs.to(device), targets.to(device))
        held = torch.Generator().manual_seed(seed + HELD_OUT)
        inputs, targets = sample(task, span, budget.held_out, held, **params)
        with torch.no_grad():
            predicted = model(inputs.to(device)).argmax(-1).cpu()
        return (predicted == targets).float().mean().item()


_RUNS: list = []  # the (spec, task, span, size, seed, params) a forked worker trains


def _run(index: int) -> float:
    """Train run `index` of ``_RUNS`` on the CPU: what a worker process does."""
    spec, task, span, size, seed, params = _RUNS[index]
    return train(spec, task, span, size, seed, None, False, **params)


def _parallel(workers: int, device) -> bool:
    """Whether runs go to `workers` forked processes: only on the CPU, and only where the
    platform can fork (each run is seeded and single-threaded, so the rows are the same)."""
    cpu = device is None or torch.device(device).type == "cpu"
    return workers > 1 and cpu and "fork" in multiprocessing.get_all_start_methods()


def sweep(
    models,
    task: str,
    spans,
    size="quick",
    seed: int = 0,
    device=None,
    progress: bool = False,
    workers: int = 1,
    **params,
) -> list[dict]:
    """Held-out accuracy of every model at every span: rows {"model", "span", "accuracy"}.

    models: a list of specs (each labelled by ``specs.label``), or a dict {label: model} whose
    model is a spec or a function span -> spec, for a model sized to each span (a dilated
    CNN with just enough layers). Start a label with the architecture's name: figures take
    the colour from its first word. workers > 1 trains that many runs at once in forked
    processes on the CPU (elsewhere, or without fork, one after another); every run is
    seeded and single-threaded, so the rows do not depend on it.
    """
    if isinstance(models, dict):
        named = list(models.items())
    else:
        named = []
        for model in models:
            require_spec(model)
            named.append((label(model), model))
    spans = list(spans)
    if not named or not spans:
        raise ValueError("models and spans must each hold at least one entry")
    for span in spans:
        require_positive(span=span)
    require_positive(workers=workers)
    grid = [(name, model(span) if callable(model) else model, span)
            for name, model in named for span in spans]  # fmt: skip
    if _parallel(workers, device):
        _RUNS[:] = [(spec, task, span, size, seed, params) for _, spec, span in grid]
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            done = pool.imap(_run, range(len(grid)))
            accuracies = list(tqdm(done, total=len(grid), desc=task, disable=not progress))
        _RUNS.clear()
    else:
        accuracies = [train(spec, task, span, size, seed, device, progress, **params)
                      for _, spec, span in tqdm(grid, desc=task, disable=not progress)]
    return [{"model": name, "span": span, "accuracy": accuracy}
            for (name, _, span), accuracy in zip(grid, accuracies, strict=True)]


def pivot(rows: list[dict], digits: int = 2) -> list[dict]:
    """Sweep rows as one row per model, one column per span (for ``book.table``)."""
    table = {}
    for row in rows:
        table.setdefault(row["model"], {"model": row["model"]})[f"span {row['span']}"] = round(
            row["accuracy"], digits
        )
    return list(table.values())
