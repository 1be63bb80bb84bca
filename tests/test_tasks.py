"""The tasks have the span they claim; a model that cannot reach it is at chance by construction.

Each test sets the generator against an independent route: the position where the label
actually sits, a stack parser, exact enumeration, the Jacobian of the real classifier.
"""

import itertools
import math

import matplotlib.pyplot as plt
import pytest
import torch

import pathcost as pc
from pathcost import tasks, training

SPAN = 12
TINY = training.Budget(steps=30, batch=32, lr=1e-2, held_out=256)
SHORT_CNN = pc.CNN(d_model=16, kernel=3, layers=2)  # R = 5 <= SPAN: cannot see position 0
DILATED = pc.CNN(d_model=16, kernel=2, layers=4, dilations=(1, 2, 4, 8))  # reaches 15 back


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("span", [1, 5, SPAN])
def test_copy_label_agrees_with_position_zero_only(span):
    inputs, targets = tasks.copy_first(span, 2000, generator=seeded())
    assert inputs.shape == (2000, span + 1) and (inputs[:, -1] == 8).all()
    agreement = (inputs[:, :-1] == targets.unsqueeze(1)).float().mean(0)  # per position
    assert agreement[0] == 1  # the label sits span positions before the query
    assert ((agreement[1:] - 1 / 8).abs() < 0.04).all()  # elsewhere only chance agreement


@pytest.mark.parametrize("span", [1, 2, 7, SPAN, 101])
def test_bracket_parser_finds_the_opener_span_back_with_the_label_type(span):
    inputs, targets = tasks.brackets(span, 300, generator=seeded(span))
    positions, kinds = tasks.matching_opener(inputs)
    assert (positions == inputs.shape[1] - 1 - span).all()
    assert torch.equal(kinds, targets)


def test_retyping_the_first_bracket_changes_the_answer_and_retyping_others_does_not():
    inputs, targets = tasks.brackets(SPAN, 200, generator=seeded(1))
    ids = tasks.bracket_tokens()
    moved = inputs.clone()
    moved[:, 0] = (targets + 1) % 4  # another type at the span position
    assert torch.equal(tasks.matching_opener(moved)[1], (targets + 1) % 4)
    swapped = (
        inputs.clone()
    )  # exchange types 0 and 1 everywhere after position 0, pairs stay matched
    for shift in (ids["open"], ids["close"]):
        inner = swapped[:, 1:]
        zero, one = inner == shift, inner == shift + 1
        inner[zero], inner[one] = shift + 1, shift
    changed = (swapped != inputs).any(1)
    assert changed.float().mean() > 0.5
    assert torch.equal(tasks.matching_opener(swapped)[1], targets)


@pytest.mark.parametrize(
    "task,params,k",
    [
        ("copy", {}, 8),
        ("copy", {"vocab": 3}, 3),
        ("brackets", {}, 4),
        ("brackets", {"types": 2}, 2),
    ],
)
def test_chance_is_one_over_classes_and_labels_are_uniform(task, params, k):
    assert tasks.chance(task, **params) == 1 / k == 1 / tasks.classes(task, **params)
    _, targets = tasks.sample(task, 9, 8000, seeded(), **params)
    frequencies = torch.bincount(targets, minlength=k).float() / len(targets)
    assert len(frequencies) == k
    assert (frequencies - 1 / k).abs().max() < 0.02  # the best constant guess is worth 1 / k


@pytest.mark.parametrize("task", tasks.TASKS)
def test_seed_reproduces_the_batch_and_another_seed_does_not(task):
    first = tasks.sample(task, SPAN, 64, seeded(5))
    again = tasks.sample(task, SPAN, 64, seeded(5))
    other = tasks.sample(task, SPAN, 64, seeded(6))
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], other[0])


def test_seed_reproduces_the_trained_accuracy_and_leaves_threads_alone():
    threads = torch.get_num_threads()
    runs = [training.train(DILATED, "copy", 6, size=TINY, seed=seed) for seed in (3, 3, 4)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize("task", tasks.TASKS)
def test_short_cnn_output_does_not_depend_on_the_decisive_token(task):
    assert pc.receptive_field(SHORT_CNN) <= SPAN
    assert pc.path_length(SHORT_CNN, SPAN) == math.inf
    assert pc.path_length(DILATED, SPAN) != math.inf
    for spec, reaches in ((SHORT_CNN, False), (DILATED, True)):
        model = training.classifier(spec, task)
        inputs, _ = tasks.sample(task, SPAN, 16, seeded())
        embedded = model.embed(inputs).detach().requires_grad_(True)
        logits = model.readout(model.body(embedded)[:, -1])
        (gradient,) = torch.autograd.grad(logits.sum(), embedded)  # (B, n, d)
        assert (gradient[:, 0] != 0).any().item() is reaches  # exact zero: no route at all


def test_short_cnn_trained_is_at_chance_and_changing_the_first_token_changes_nothing():
    accuracy = training.train(SHORT_CNN, "copy", SPAN, size=TINY)
    sigma = math.sqrt(1 / 8 * 7 / 8 / TINY.held_out)
    assert abs(accuracy - 1 / 8) < 3 * sigma
    model = training.classifier(SHORT_CNN, "copy")
    inputs, _ = tasks.copy_first(SPAN, 64, generator=seeded())
    changed = inputs.clone()
    changed[:, 0] = (inputs[:, 0] + 3) % 8
    with torch.no_grad():
        assert torch.equal(model(inputs), model(changed))


def test_transformer_without_positions_sees_a_bag_and_with_positions_sees_order():
    def logits(positional, order):
        spec = pc.Transformer(16, heads=2, d_ff=32, layers=2, causal=False, positional=positional)
        model = training.classifier(spec, "copy")
        inputs, _ = tasks.copy_first(SPAN, 8, generator=seeded())
        permuted = torch.cat([inputs[:, :-1][:, order], inputs[:, -1:]], dim=1)
        with torch.no_grad():
            return model(inputs), model(permuted)

    order = torch.randperm(SPAN, generator=seeded(2))
    plain, shuffled = logits(False, order)
    assert torch.allclose(plain, shuffled, atol=1e-5)
    plain, shuffled = logits(True, order)
    assert not torch.allclose(plain, shuffled, atol=1e-3)


def brute_force_bag_accuracy(span, vocab):
    total = 0
    for sequence in itertools.product(range(vocab), repeat=span):
        counts = [sequence.count(v) for v in range(vocab)]
        total += max(counts)
    return total / span / vocab**span


@pytest.mark.parametrize("span,vocab", [(1, 2), (3, 2), (4, 3), (6, 2), (5, 4)])
def test_bag_accuracy_equals_enumeration(span, vocab):
    assert tasks.bag_accuracy(span, vocab) == pytest.approx(brute_force_bag_accuracy(span, vocab))


@pytest.mark.parametrize("span", [8, 32, 200])
def test_bag_accuracy_equals_the_plurality_guess_on_generated_data(span):
    inputs, targets = tasks.copy_first(span, 20000, generator=seeded(span))
    measured = tasks.plurality_accuracy(inputs, targets)
    assert measured == pytest.approx(tasks.bag_accuracy(span), abs=0.01)
    assert tasks.chance("copy") < tasks.bag_accuracy(span) < tasks.bag_accuracy(span // 2)


def test_sweep_builds_a_spec_per_span_and_pivot_makes_one_row_per_model():
    built = []

    def grown(span):
        built.append(span)
        return pc.CNN(16, kernel=2, layers=span)  # reaches exactly span positions back

    rows = training.sweep({"CNN grown": grown, "short": SHORT_CNN}, "brackets", [3, 4], size=TINY)
    assert built == [3, 4]
    assert [(r["model"], r["span"]) for r in rows] == [
        ("CNN grown", 3),
        ("CNN grown", 4),
        ("short", 3),
        ("short", 4),
    ]
    table = training.pivot(rows)
    assert [row["model"] for row in table] == ["CNN grown", "short"]
    assert table[1]["span 4"] == round(rows[3]["accuracy"], 2)
    assert training.sweep([SHORT_CNN], "copy", [3], size=TINY)[0]["model"] == "CNN k=3 causal"


def test_a_sweep_in_worker_processes_gives_the_rows_of_one_run_after_another():
    models = {"CNN grown": lambda span: pc.CNN(16, kernel=2, layers=span), "short": SHORT_CNN,
              "LSTM": pc.LSTM(8)}  # fmt: skip
    one_by_one = training.sweep(models, "copy", [3, 5], size=TINY)
    assert training.sweep(models, "copy", [3, 5], size=TINY, workers=2) == one_by_one
    assert training._parallel(2, None) and not training._parallel(1, "cpu")
    assert not training._parallel(2, "cuda")  # a forked child cannot use its parent's CUDA


def test_a_sweep_needs_a_positive_number_of_workers():
    with pytest.raises(ValueError, match="workers"):
        training.sweep([SHORT_CNN], "copy", [3], size=TINY, workers=0)


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: tasks.copy_first(0, 4), "span"),
        (lambda: tasks.copy_first(4, 0), "batch"),
        (lambda: tasks.copy_first(4, 4, vocab=1), "vocab"),
        (lambda: tasks.brackets(4, 4, types=0), "types"),
        (lambda: tasks.copy_first(4, 4, generator=0), "generator"),
        (lambda: tasks.sample("adding", 4, 4), "task"),
        (lambda: tasks.sample("copy", 4, 4, types=2), "takes"),
        (lambda: training.train(SHORT_CNN, "copy", 4, size="medium"), "size"),
        (lambda: training.train(SHORT_CNN, "copy", 4, size=TINY, threads=0), "threads"),
        (lambda: training.train(SHORT_CNN, "copy", 4, size=TINY, seed=2**31), "seed"),
        (lambda: training.train("cnn", "copy", 4), "spec"),
        (lambda: training.Budget(steps=10, batch=4, lr=0, held_out=4), "lr"),
        (lambda: training.sweep([], "copy", [4]), "models"),
        (lambda: training.sweep([lambda span: SHORT_CNN], "copy", [4]), "spec"),
        (lambda: tasks.bag_accuracy(0), "span"),
        (lambda: tasks.matching_opener(torch.zeros(3)), "inputs"),
        (lambda: pc.plots.accuracy_vs_span([], chance=1.5), "chance"),
    ],
)
def test_bad_input_raises_value_error_naming_it(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_attention_reaches_copy_with_positions_and_stays_under_the_bag_bound_without():
    def spec(positional):
        return pc.Transformer(16, heads=2, d_ff=32, layers=1, causal=False, positional=positional)

    quick = training.BUDGETS["quick"]
    with_positions = training.train(spec(True), "copy", 8)
    without = training.train(spec(False), "copy", 8)
    sigma = math.sqrt(0.25 / quick.held_out)
    assert with_positions > 0.9
    assert tasks.chance("copy") < without < tasks.bag_accuracy(8) + 3 * sigma


def test_render_spells_tokens_and_refuses_foreign_ids():
    assert tasks.render(torch.tensor([0, 7, 8]), "copy") == "a h ?"
    assert tasks.render([0, 5, 8, 4, 9], "brackets") == "( ] . ) ?"
    assert tasks.render(torch.tensor(2), "copy") == "c"
    with pytest.raises(ValueError, match="row"):
        tasks.render([9], "copy")


def test_accuracy_plot_colours_by_architecture_and_dashes_a_second_variant():
    rows = [
        {"model": name, "span": span, "accuracy": 0.5}
        for name in ("RNN", "CNN short", "CNN dilated", "Transformer, positions")
        for span in (8, 16)
    ]
    ax = pc.plots.accuracy_vs_span(rows, chance=0.25, held_out=100, bound={8: 0.4, 16: 0.3})
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert lines["RNN"].get_color() == pc.plots.COLORS["RNN"]
    assert (
        lines["CNN short"].get_color() == lines["CNN dilated"].get_color() == pc.plots.COLORS["CNN"]
    )
    assert lines["CNN short"].get_linestyle() != lines["CNN dilated"].get_linestyle()
    assert lines["Transformer, positions"].get_color() == pc.plots.COLORS["Transformer"]
    assert list(lines["chance, 1 / classes"].get_ydata()) == [0.25, 0.25]
    assert list(lines["best without order (bag of tokens)"].get_ydata()) == [0.4, 0.3]
    plt.close(ax.figure)
