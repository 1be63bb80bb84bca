"""The capstone's data, parameter budget and runs, each held to a route of its own."""

import math

import matplotlib
import pytest
import torch

import pathcost as pc
from pathcost.experiments import capstone as cp

matplotlib.use("Agg")


# --- mixed recall -------------------------------------------------------------------------------
@pytest.mark.parametrize("n, local, share", [(8, 2, 0.5), (64, 4, 0.3), (100, 98, 1.0), (5, 1, 0)])
def test_span_probabilities_put_each_share_on_its_spans(n, local, share):
    p = cp.span_probabilities(n, local, share)
    assert len(p) == n and p[0] == 0
    assert math.fsum(p[1: local + 1]) == pytest.approx(1 - share, abs=1e-12)
    assert math.fsum(p[local + 1:]) == pytest.approx(share, abs=1e-12)
    assert len(set(p[1: local + 1])) == 1 and len(set(p[local + 1:])) == 1


@pytest.mark.parametrize(
    "args, name",
    [((8, 7, 0.5), "local"), ((8, 0, 0.5), "local"), ((8, 2, 1.5), "long_share"),
     ((0, 2, 0.5), "n"), ((8, 2, "half"), "long_share")],
)  # fmt: skip
def test_bad_span_mixes_are_refused_by_name(args, name):
    with pytest.raises(ValueError, match=name):
        cp.span_probabilities(*args)


def test_mixed_recall_marks_one_value_at_its_span_and_labels_it():
    n, vocab = 24, 5
    data = cp.mixed_recall(n, 3000, local=3, long_share=0.4, vocab=vocab,
                           generator=torch.Generator().manual_seed(3))  # fmt: skip
    assert (data.tokens, data.classes) == (2 * vocab + 1, vocab)
    assert (data.inputs[:, -1] == 2 * vocab).all()
    marked = (data.inputs >= vocab) & (data.inputs < 2 * vocab)
    assert (marked.sum(1) == 1).all()  # exactly one marked token a row
    position = marked.float().argmax(1)
    assert torch.equal(n - 1 - position, data.spans)
    assert torch.equal(data.inputs[torch.arange(len(data)), position] - vocab, data.targets)
    # the spans follow span_probabilities: each count within 4 binomial sigmas
    counts = torch.bincount(data.spans, minlength=n)
    for d, p in enumerate(cp.span_probabilities(n, 3, 0.4)):
        sigma = math.sqrt(len(data) * p * (1 - p))
        assert abs(counts[d] - len(data) * p) <= 4 * sigma + 1e-9


def test_mixed_recall_repeats_with_its_seed():
    a = cp.mixed_recall(16, 50, generator=torch.Generator().manual_seed(7))
    b = cp.mixed_recall(16, 50, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.spans, b.spans)


# --- brackets in source -------------------------------------------------------------------------
def open_bracket_by_stack(row: torch.Tensor):
    """(distance back from the last position, type) of the innermost bracket left open in
    the window: the route that reads only the window's categories."""
    stack = []
    for p, token in enumerate(row[:-1].tolist()):
        if token < 3:
            stack.append((p, token))
        elif token < 6 and stack:  # a close on an empty stack: opened before the window
            assert stack.pop()[1] == token - 3
    position, kind = stack[-1]
    return len(row) - 1 - position, kind


def test_a_hand_made_source_gives_its_one_window(tmp_path):
    path = tmp_path / "f.py"
    path.write_text("f(a, [b, c])\n")  # f ( a , [ b , c ] ): ']' closes 4 back, ')' 8 back
    data = cp.stdlib_brackets([path], 6)
    names = [cp.CATEGORIES[t] if t < len(cp.CATEGORIES) else "?" for t in data.inputs[0]]
    assert names == ["operator", "[", "name", "operator", "name", "?"]
    assert data.targets.tolist() == [cp.CLOSERS.index("]")] and data.spans.tolist() == [4]
    assert len(cp.stdlib_brackets([path], 9)) == 2  # now ')' fits too


def test_every_window_of_real_source_closes_what_a_stack_finds_open():
    data = cp.stdlib_brackets(pc.advisor.stdlib_files(limit=6), 40)
    assert len(data) > 100
    for row, target, span in zip(data.inputs, data.targets, data.spans):
        assert open_bracket_by_stack(row) == (int(span), int(target))


def test_a_limit_keeps_evenly_spaced_windows():
    files = pc.advisor.stdlib_files(limit=10)
    every, some = cp.stdlib_brackets(files, 32), cp.stdlib_brackets(files, 32, limit=20)
    assert len(some) == 20 < len(every)
    assert len(cp.stdlib_brackets(files, 32, limit=10**6)) == len(every)
    picked = [i * len(every) // 20 for i in range(20)]
    assert torch.equal(some.inputs, every.inputs[picked])
    assert torch.equal(some.spans, every.spans[picked])


def test_bad_bracket_requests_are_refused_by_name(tmp_path):
    empty = tmp_path / "e.py"
    empty.write_text("x = 1\n")
    with pytest.raises(ValueError, match="no closing bracket"):
        cp.stdlib_brackets([empty], 8)
    with pytest.raises(ValueError, match="n must be"):
        cp.stdlib_brackets([empty], 1)
    with pytest.raises(ValueError, match="limit"):
        cp.stdlib_brackets([empty], 8, limit=0)
    with pytest.raises(ValueError, match="no such file"):
        cp.stdlib_brackets([tmp_path / "missing.py"], 8)


# --- one parameter budget -----------------------------------------------------------------------
SPECS = [pc.LSTM(12), pc.RNN(7, 2), pc.CNN(9, 3, 4), pc.Transformer(16, 4, 24, 2),
         pc.Transformer(12, 2, 24, 1, positional=True), pc.Hybrid(3, pc.LSTM(10)),
         pc.Hybrid(2, pc.Transformer(8, 2, 16, 1))]  # fmt: skip


@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_classifier_params_count_the_real_module(spec):
    model = pc.training.Classifier(spec, 13, 5)
    assert cp.classifier_params(spec, 13, 5) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("spec", SPECS, ids=repr)
@pytest.mark.parametrize("target", [3_000, 20_000])
def test_width_for_is_the_nearest_of_every_width(spec, target):
    sized = cp.width_for(spec, target, 11, 4)
    body = pc.specs.body(spec)
    step = body.heads if isinstance(body, pc.Transformer) else 1
    widths = range(step, 400, step)
    counts = {d: cp.classifier_params(cp.with_width(spec, d), 11, 4) for d in widths}
    best = min(widths, key=lambda d: (abs(counts[d] - target), d))
    assert sized.d_model == best
    assert type(sized) is type(spec) and sized.layers == spec.layers


def test_with_width_keeps_a_transformers_ffn_ratio_and_a_hybrids_stride():
    assert cp.with_width(pc.Transformer(16, 4, 64, 2), 8).d_ff == 32
    hybrid = cp.with_width(pc.Hybrid(3, pc.LSTM(10, 2)), 6)
    assert (hybrid.stride, hybrid.then, hybrid.d_model) == (3, pc.LSTM(6, 2), 6)


# --- accuracy by span ---------------------------------------------------------------------------
def test_accuracy_by_span_agrees_with_a_row_by_row_count():
    g = torch.Generator().manual_seed(0)
    spans = torch.randint(1, 40, (500,), generator=g)
    targets = torch.randint(3, (500,), generator=g)
    predicted = torch.randint(3, (500,), generator=g)
    rows = cp.accuracy_by_span(predicted, targets, spans, [4, 16])
    assert [(low, high) for low, high, _, _ in rows] == [(1, 4), (5, 16), (17, int(spans.max()))]
    for low, high, count, accuracy in rows:
        inside = [i for i in range(500) if low <= spans[i] <= high]
        assert count == len(inside)
        assert accuracy == pytest.approx(sum(int(predicted[i] == targets[i]) for i in inside)
                                         / len(inside))  # fmt: skip
    empty = cp.accuracy_by_span(predicted[:1], targets[:1], torch.tensor([2]), [1, 4, 9])
    assert [count for _, _, count, _ in empty] == [0, 1, 0] and math.isnan(empty[0][3])
    for edges in ([], [4, 4], [16, 4], [0, 3], [2.5]):
        with pytest.raises(ValueError, match="edges"):
            cp.accuracy_by_span(predicted, targets, spans, edges)


# --- a run ----------------------------------------------------------------------------------------
def recall(n=12, count=512, seed=0):
    return cp.mixed_recall(n, count, local=2, long_share=0.5,
                           generator=torch.Generator().manual_seed(seed))  # fmt: skip


def test_fit_spends_its_steps_and_counts_what_it_trained():
    train, held = recall(), recall(count=256, seed=1)
    spec = pc.LSTM(8)
    run = cp.fit("LSTM", spec, train, held, cp.Budget(steps=5, batch=32, lr=1e-2), (2,))
    assert run.steps == 5 and run.params == cp.classifier_params(spec, train.tokens, train.classes)
    assert run.epochs == 5 * 32 / len(train)
    assert sum(count for _, _, count, _ in run.by_span) == len(held)
    predicted = run.model(held.inputs).argmax(-1)
    assert run.held_out_accuracy == pytest.approx((predicted == held.targets).float().mean().item())
    weights = 4 * run.params
    assert run.peak_bytes > weights + 2 * weights  # the weights, Adam's two moments, the step
    again = cp.fit("LSTM", spec, train, held, cp.Budget(steps=5, batch=32, lr=1e-2), (2,))
    assert again.held_out_accuracy == run.held_out_accuracy  # seeded: the same run


def test_a_transformer_learns_the_recall_well_above_chance():
    train, held = recall(count=2048), recall(count=512, seed=1)
    spec = pc.Transformer(16, 2, 32, 1, positional=True)
    run = cp.fit("Transformer", spec, train, held, cp.Budget(steps=150, batch=64, lr=1e-2),
                 (2,))  # fmt: skip
    assert run.held_out_accuracy > 0.6 > 3 / train.classes  # chance is 1 / 8


def test_bad_runs_are_refused_by_name():
    train, held = recall(), recall(seed=1)
    brackets = cp.stdlib_brackets(pc.advisor.stdlib_files(limit=2), 16)
    with pytest.raises(ValueError, match="budget"):
        cp.fit("x", pc.LSTM(4), train, held, cp.Budget(steps=1, batch=8, lr=1e-2), (2,))
    with pytest.raises(ValueError, match="same task"):
        cp.fit("x", pc.LSTM(4), train, brackets, cp.Budget(steps=2, batch=8, lr=1e-2), (2,))
    bad = ((dict(steps=0), "steps"), (dict(lr=0.0), "lr"), (dict(seconds=-1), "seconds"))
    for kwargs, name in bad:
        with pytest.raises(ValueError, match=name):
            cp.Budget(**{**dict(steps=2, batch=8, lr=1e-2), **kwargs})


def test_the_table_and_figures_show_each_run():
    train, held = recall(), recall(count=256, seed=1)
    runs = [cp.fit(name, spec, train, held, cp.Budget(steps=3, batch=32, lr=1e-2), (2, 6))
            for name, spec in (("LSTM", pc.LSTM(8)), ("Hybrid", pc.Hybrid(2, pc.LSTM(8))))]
    rows = cp.table(runs)
    assert [row["model"] for row in rows] == ["LSTM", "Hybrid"]
    assert rows[0]["held-out acc."] == round(runs[0].held_out_accuracy, 2)
    ax = pc.plots.learning.accuracy_by_bucket(runs, 1 / 8, "chance")
    heights = sorted(round(bar.get_height(), 9) for bar in ax.patches)
    expected = sorted(round(a, 9) for run in runs for *_, a in run.by_span)
    assert heights == expected
    mass = (0.0, 3.0, 1.0)
    ax = pc.plots.learning.attention_against_span(held.spans, mass)
    truth, learned = ax.lines[0].get_ydata(), ax.lines[1].get_ydata()
    assert sum(truth) == pytest.approx(1) and list(learned[:3]) == pytest.approx([0, 0.75, 0.25])
    levels = cp.majority_by_span(held.targets, held.spans, (2, 6))
    ax = pc.plots.learning.accuracy_by_bucket(runs, levels, "majority")
    drawn = [line.get_ydata()[0] for line in ax.lines if line.get_linestyle() == ":"]
    assert drawn == [share for *_, share in levels]
    with pytest.raises(ValueError, match="baseline"):
        pc.plots.learning.accuracy_by_bucket(runs, 1.5, "chance")
    with pytest.raises(ValueError, match="baseline"):
        pc.plots.learning.accuracy_by_bucket(runs, levels[:1], "majority")
    with pytest.raises(ValueError, match="runs"):
        pc.plots.learning.accuracy_by_bucket([], 0.5, "chance")


def test_the_majority_by_span_is_each_buckets_most_frequent_label():
    from collections import Counter

    g = torch.Generator().manual_seed(2)
    spans = torch.randint(1, 30, (400,), generator=g)
    labels = torch.randint(3, (400,), generator=g)
    targets = torch.where(spans > 10, labels, torch.zeros(400, dtype=torch.long))
    rows = cp.majority_by_span(targets, spans, [10])
    for low, high, count, share in rows:
        labels = [int(t) for t, d in zip(targets, spans) if low <= d <= high]
        assert count == len(labels)
        assert share == pytest.approx(Counter(labels).most_common(1)[0][1] / len(labels))
    assert rows[0][3] == 1.0  # spans 1..10 are all label 0


def run_scoring(name, accuracy, count):
    return cp.Run(name, pc.LSTM(2), 0, 0, 0.0, 0.0, 0.0, 0, 0.0, accuracy,
                  ((1, 4, count, accuracy),), None)  # fmt: skip


def test_leaders_are_the_runs_within_two_standard_errors_of_the_best():
    runs = [run_scoring("a", 0.90, 400), run_scoring("b", 0.88, 400), run_scoring("c", 0.80, 400)]
    q = (0.9 * 400 + 2) / 404
    assert 0.02 < 2 * math.sqrt(q * (1 - q) / 404) < 0.10  # b inside the noise, c outside
    assert cp.leaders(runs) == (("a", "b"), 0.90) == cp.leaders(runs, bucket=0)
    perfect = [run_scoring("a", 1.0, 16), run_scoring("b", 0.95, 16)]
    assert cp.leaders(perfect)[0] == ("a", "b")  # 16 sequences cannot tell 1.0 from 0.95
    with pytest.raises(ValueError, match="runs"):
        cp.leaders([])


def test_the_shared_training_step_and_classifier_refuse_bad_input_by_name():
    model = pc.training.seeded_classifier(pc.LSTM(4), 5, 3)
    optimizer = torch.optim.Adam(model.parameters())
    inputs, targets = torch.zeros(2, 6, dtype=torch.long), torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match="optimizer"):
        pc.training.fit_batch(model, "adam", inputs, targets)
    with pytest.raises(ValueError, match="module"):
        pc.training.fit_batch(pc.LSTM(4), optimizer, inputs, targets)
    for kwargs, name in ((dict(tokens=0), "tokens"), (dict(classes=-1), "classes"),
                         (dict(seed=-1), "seed")):  # fmt: skip
        with pytest.raises(ValueError, match=name):
            pc.training.seeded_classifier(pc.LSTM(4), **{**dict(tokens=5, classes=3), **kwargs})
