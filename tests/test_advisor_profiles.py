"""Span and length estimators: percentiles, padding, memory of a series, where attention looks,
and the standard library as a corpus, each against a route that does not share its code."""

import ast
import io
import math
import random
import tokenize
from bisect import bisect_right
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import pathcost as pc
from pathcost.advisor import corpus, profiles
from pathcost.banded import banded


# --- percentiles ------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [1, 2, 3, 7, 10, 99, 100, 101, 1000])
def test_nearest_rank_percentile_equals_the_definition_and_numpys_inverted_cdf(size):
    rng = random.Random(size)
    values = [rng.randint(-50, 500) for _ in range(size)]
    ordered = sorted(values)
    for p in range(1, 101):
        # the definition, read literally: the smallest value with >= p% at or below it
        defined = min(v for v in set(values) if 100 * bisect_right(ordered, v) >= p * size)
        assert profiles.percentile(values, p) == defined
        # numpy forms p / 100 in floating point: where p N / 100 is a whole rank, 0.07 * 100
        # = 7.000000000000001 can round it one rank up, so it is compared off those points
        if p * size % 100:
            assert profiles.percentile(values, p) == np.percentile(
                values, p, method="inverted_cdf"
            )


def test_weighted_percentile_equals_numpys_weighted_inverted_cdf():
    rng = random.Random(1)
    for size in (1, 5, 40):
        values = [rng.randint(0, 30) for _ in range(size)]
        weights = [float(rng.randint(0, 9)) for _ in range(size - 1)] + [1.0]
        for p in (1, 10, 50, 90, 99, 100):
            expected = np.percentile(values, p, weights=weights, method="inverted_cdf")
            assert profiles.weighted_percentile(values, weights, p) == expected
        assert profiles.weighted_percentile(values, [1] * size, 50) == profiles.percentile(
            values, 50
        )


def test_percentiles_summary_of_one_to_one_hundred():
    summary = profiles.percentiles(range(100, 0, -1))
    assert (summary.count, summary.p50, summary.p90, summary.p99, summary.max) == (
        100, 50, 90, 99, 100,
    )  # fmt: skip


# --- padding ----------------------------------------------------------------------------------
def padded_batch_waste(lengths, ends):
    """Pad real batches: group by bucket, pad_sequence, pad on to the bucket end, count pads."""
    pad, padded, padding = -1, 0, 0
    lower = 0
    for end in ends:
        group = [torch.ones(n, dtype=torch.long) for n in lengths if lower < n <= end]
        lower = end
        if not group:
            continue
        batch = torch.nn.utils.rnn.pad_sequence(group, batch_first=True, padding_value=pad)
        batch = F.pad(batch, (0, end - batch.shape[1]), value=pad)  # (len(group), end)
        padded += batch.numel()
        padding += int((batch == pad).sum())
    return padded, padding


@pytest.mark.parametrize("seed", range(5))
def test_padding_waste_equals_padding_real_batches(seed):
    rng = random.Random(seed)
    lengths = [rng.randint(1, 300) for _ in range(rng.randint(1, 60))]
    for boundaries in (None, [16], [8, 64, 128], [50, 100, 200, 400], [1000]):
        waste = profiles.padding_waste(lengths, boundaries)
        ends = list(boundaries or [])
        if not ends or ends[-1] < max(lengths):  # lengths above the last boundary: one more
            ends.append(max(lengths))
        padded, padding = padded_batch_waste(lengths, ends)
        assert (waste.padded_tokens, waste.padding_tokens) == (padded, padding)
        assert waste.waste == padding / padded
    to_512 = profiles.padding_waste(lengths, pad_to=512)
    assert (to_512.padded_tokens, to_512.padding_tokens) == (
        512 * len(lengths), 512 * len(lengths) - sum(lengths),
    )  # fmt: skip


def test_padding_waste_by_hand():
    # lengths 3, 5, 9 and 20 at boundaries 4, 8: padded to 4, 8, 20 (own bucket at max), 20
    waste = profiles.padding_waste([3, 5, 9, 20], [4, 8])
    assert waste.ends == (4, 8, 20) and waste.padded_tokens == 52 and waste.padding_tokens == 15
    assert profiles.padding_waste([3, 5, 9, 20]).padding_tokens == 80 - 37


def test_length_profile_carries_percentiles_padding_and_attention_bytes():
    lengths = [10] * 50 + [100] * 40 + [1000] * 9 + [5000]
    profile = pc.advisor.length_profile(lengths, boundaries=[128, 1024])
    assert (profile.count, profile.tokens) == (100, sum(lengths))
    assert (profile.p50, profile.p90, profile.p99, profile.max) == (10, 100, 1000, 5000)
    assert profile.padding.padded_tokens == 100 * 5000
    assert profile.bucketed.padded_tokens == 90 * 128 + 9 * 1024 + 5000
    for key, n in (("p50", 10), ("p90", 100), ("p99", 1000), ("max", 5000)):
        assert profile.attention_bytes[key] == 1 * 8 * n * n * 2  # B h n^2 bytes(fp16)
    wide = pc.advisor.length_profile(lengths, heads=12, batch=4, dtype=torch.float32)
    assert wide.attention_bytes["max"] == 4 * 12 * 5000**2 * 4 and wide.dtype == "fp32"
    assert wide.bucketed is None


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: pc.advisor.length_profile([]), "lengths must hold at least one value"),
        (lambda: pc.advisor.length_profile([3, 0]), r"lengths\[1\] must be an integer"),
        (lambda: pc.advisor.length_profile([3, -2]), r"lengths\[1\]"),
        (lambda: pc.advisor.length_profile([3, 2.5]), r"lengths\[1\]"),
        (lambda: pc.advisor.length_profile([True]), r"lengths\[0\]"),
        (lambda: pc.advisor.length_profile(7), "lengths must be a sequence"),
        (lambda: pc.advisor.length_profile([3], boundaries=[8, 4]), "strictly increasing"),
        (lambda: pc.advisor.length_profile([3], boundaries=[4, 4]), "strictly increasing"),
        (lambda: pc.advisor.length_profile([3], boundaries=[0, 4]), r"boundaries\[0\]"),
        (lambda: pc.advisor.length_profile([3], boundaries=[]), "non-empty"),
        (lambda: pc.advisor.length_profile([9], pad_to=8), "pad_to must be >= the longest"),
        (lambda: pc.advisor.length_profile([9], heads=0), "heads must be an integer >= 1"),
        (lambda: pc.advisor.length_profile([9], dtype=torch.int8), "dtype must be one of"),
        (lambda: profiles.percentile([1, 2], 0), "p must be an integer percentage"),
        (lambda: profiles.percentile([1, 2], 101), "p must be an integer percentage"),
        (lambda: profiles.weighted_percentile([1], [-1], 50), "weights must be >= 0"),
        (lambda: profiles.weighted_percentile([1, 2], [1], 50), "of one length"),
    ],
)
def test_bad_lengths_are_refused_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- autocorrelation --------------------------------------------------------------------------
def ar1(phi: float, size: int, seed: int) -> list:
    """x_t = phi x_(t-1) + e_t, e_t ~ N(0, 1), started in the stationary law N(0, 1/(1-phi^2))."""
    noise = np.random.default_rng(seed).standard_normal(size).tolist()
    x = [noise[0] / math.sqrt(1 - phi * phi)]
    for e in noise[1:]:
        x.append(phi * x[-1] + e)
    return x


def test_autocorrelation_equals_the_direct_sums():
    x = np.random.default_rng(3).standard_normal(257).cumsum()
    y = x - x.mean()
    direct = [float(np.dot(y[: len(y) - k], y[k:]) / np.dot(y, y)) for k in range(len(y))]
    assert np.allclose(profiles.autocorrelation(x), direct, rtol=0, atol=1e-12)


# phi^k crosses 1/e between the two lags either side of -1/ln(phi) by at least 0.018; with N
# samples the estimate of r_k has a standard deviation of about sqrt(6 / N) or less (Bartlett).
@pytest.mark.parametrize("phi, size", [(0.5, 20_000), (0.8, 200_000), (0.9, 1_000_000)])
def test_ar1_autocorrelation_length_is_the_closed_form(phi, size):
    expected = math.floor(-1 / math.log(phi)) + 1  # smallest k with phi^k < 1/e
    assert expected == math.ceil(-1 / math.log(phi))  # -1/ln(phi) is not an integer here
    assert phi**expected < math.exp(-1) < phi ** (expected - 1)
    assert pc.advisor.autocorrelation_length(ar1(phi, size, seed=12)) == expected


def test_white_noise_and_alternation_have_length_one():
    noise = np.random.default_rng(0).standard_normal(5000)
    assert pc.advisor.autocorrelation_length(noise) == 1
    assert pc.advisor.autocorrelation_length(torch.tensor([1.0, -1.0] * 50)) == 1
    assert pc.advisor.autocorrelation_length([0, 1]) == 1  # r_1 = -1/2


def test_a_sine_is_remembered_for_part_of_its_period():
    period = 64  # cos(2 pi k / 64) is 0.38 at k = 12 and 0.29 at k = 13: no knife edge at 1/e
    x = [math.sin(2 * math.pi * t / period) for t in range(100 * period)]
    cosine = [math.cos(2 * math.pi * k / period) for k in range(period)]
    expected = next(k for k in range(1, period) if cosine[k] < math.exp(-1))
    assert pc.advisor.autocorrelation_length(x) == expected  # r_k -> cos(2 pi k / T)


@pytest.mark.parametrize(
    "series, message",
    [
        ([1.0], "at least 2 values"),
        ([], "at least 2 values"),
        ([2.0, 2.0, 2.0], "must not be constant"),
        ([1.0, "2"], r"series\[1\] must be a finite number"),
        ([1.0, None], r"series\[1\]"),
        ([1.0, True], r"series\[1\]"),
        ([1.0, float("nan"), 2.0], r"series\[1\] must be a finite number"),
        ("1234", "series must be a sequence of numbers"),
        (torch.tensor([True, False]), "real numbers"),
    ],
)
def test_bad_series_are_refused_by_name(series, message):
    with pytest.raises(ValueError, match=message):
        pc.advisor.autocorrelation_length(series)


# --- attention span ---------------------------------------------------------------------------
def uniform_attention(spec, **build):
    """A module whose queries are zero, so softmax(Q K^T + mask) is uniform over each query's
    visible keys (its causal past, its window, or everything)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = banded(spec) if build.get("banded") else pc.build(spec)
    with torch.no_grad():
        for layer in model.layers:
            layer.attn.qkv.weight[: spec.d_model] = 0
            layer.attn.qkv.bias[: spec.d_model] = 0
    return model


def visible_mass(n: int, window, causal: bool, queries=None) -> dict:
    """Exact attention mass by distance of uniform attention over the keys each query (of
    `queries`, every position by default) sees."""
    mass = {}
    for t in range(n) if queries is None else queries:
        seen = [s for s in range(n) if (not causal or s <= t)
                and (window is None or abs(t - s) <= window)]  # fmt: skip
        for s in seen:
            mass[abs(t - s)] = mass.get(abs(t - s), 0) + Fraction(1, len(seen))
    return mass


def nearest_rank(mass: dict, p: int) -> int:
    total = sum(mass.values())
    running = 0
    for d in sorted(mass):
        running += mass[d]
        if running * 100 >= total * p:
            assert running * 100 != total * p  # not a tie, which rounding could tip either way
            return d


SPANS = [
    (dict(d_model=16, heads=2, d_ff=32, layers=2), 24, {}),
    (dict(d_model=16, heads=4, d_ff=32, layers=1, causal=False), 17, {}),
    (dict(d_model=16, heads=2, d_ff=32, layers=2, window=5), 23, {}),
    (dict(d_model=16, heads=2, d_ff=32, layers=1, window=4, causal=False), 21, {}),
    (dict(d_model=16, heads=2, d_ff=32, layers=2, window=5), 23, {"banded": True}),
    (dict(d_model=16, heads=4, d_ff=32, layers=2, kv_heads=2), 19, {}),
    (dict(d_model=16, heads=4, d_ff=32, layers=1, kv_heads=1, window=3), 14, {}),
    (dict(d_model=16, heads=2, d_ff=32, layers=1, window=30), 12, {}),  # window >= n: full
]


@pytest.mark.parametrize("sizes, n, build", SPANS)
def test_uniform_attention_span_equals_the_exact_mass_by_distance(sizes, n, build):
    spec = pc.Transformer(**sizes)
    batch = 3
    x = torch.randn(batch, n, spec.d_model, generator=torch.Generator().manual_seed(1))
    span = pc.advisor.attention_span(uniform_attention(spec, **build), x)
    window = spec.window if spec.window is not None and spec.window < n else None
    mass = visible_mass(n, window, spec.causal)
    copies = batch * spec.heads * spec.layers  # every head, layer and batch row looks alike
    assert span.queries == copies * n
    assert np.allclose(
        span.mass_by_distance, [float(copies * mass.get(d, 0)) for d in range(max(mass) + 1)],
        rtol=1e-6, atol=1e-6,
    )  # fmt: skip
    assert (span.p50, span.p90) == (nearest_rank(mass, 50), nearest_rank(mass, 90))
    total = sum(mass.values())
    assert span.mean == pytest.approx(float(sum(d * m for d, m in mass.items()) / total), 1e-6)


@pytest.mark.parametrize("sizes, n, build", SPANS)
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_one_query_position_gets_exactly_its_own_mass(sizes, n, build, where):
    spec = pc.Transformer(**sizes)
    t = {"first": 0, "middle": n // 2, "last": n - 1}[where]
    x = torch.randn(2, n, spec.d_model, generator=torch.Generator().manual_seed(2))
    model = uniform_attention(spec, **build)
    span = pc.advisor.attention_span(model, x, query=-1 if where == "last" else t)
    window = spec.window if spec.window is not None and spec.window < n else None
    mass = visible_mass(n, window, spec.causal, queries=[t])
    copies = 2 * spec.heads * spec.layers
    assert span.queries == copies
    assert np.allclose(
        span.mass_by_distance, [float(copies * mass.get(d, 0)) for d in range(max(mass) + 1)],
        rtol=1e-6, atol=1e-6,
    )  # fmt: skip


@pytest.mark.parametrize("causal", [True, False])
def test_uniform_attention_puts_one_nth_on_any_key(causal):
    spec = pc.Transformer(16, 2, 32, 2, causal=causal)
    n = 9
    weights = pc.advisor.attention_on(uniform_attention(spec), torch.randn(3, n, 16), [0, 4, 8])
    assert weights == pytest.approx((1 / n,) * spec.layers, rel=1e-6)  # the last query sees all


@pytest.mark.parametrize("kv_heads", [None, 1])
def test_attention_on_a_key_is_the_span_mass_at_its_distance(kv_heads):
    spec = pc.Transformer(16, 4, 32, 2, kv_heads=kv_heads)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        model = pc.build(spec)
    n, key = 11, 3
    x = torch.randn(1, n, 16, generator=torch.Generator().manual_seed(5))
    on = pc.advisor.attention_on(model, x, [key])
    span = pc.advisor.attention_span(model, x, query=-1)
    # the span pools layers and heads; attention_on averages the heads of each layer
    assert sum(on) * spec.heads == pytest.approx(span.mass_by_distance[n - 1 - key], rel=1e-9)


def test_attention_on_refuses_what_it_cannot_read():
    model = pc.build(pc.Transformer(16, 2, 32, 1))
    x = torch.randn(2, 8, 16)
    for keys in ([0], [0, 8], [0.5, 1.0], [-1, 2]):
        with pytest.raises(ValueError, match="keys must hold"):
            pc.advisor.attention_on(model, x, keys)
    with pytest.raises(ValueError, match="full attention"):
        pc.advisor.attention_on(pc.build(pc.Transformer(16, 2, 32, 1, window=2)), x, [0, 1])
    with pytest.raises(ValueError, match="full attention"):
        pc.advisor.attention_on(pc.build(pc.LSTM(16)), x, [0, 1])
    assert all(not m._forward_hooks for m in model.modules())


def test_uniform_causal_span_in_closed_form():
    # query t spreads 1/(t+1) over distances 0..t: mean (n - 1) / 4, and mass at d is
    # H_n - H_d (H the harmonic numbers)
    n, spec = 40, pc.Transformer(16, 2, 32, 1)
    span = pc.advisor.attention_span(uniform_attention(spec), torch.randn(1, n, 16))
    assert span.mean == pytest.approx((n - 1) / 4, rel=1e-6)
    harmonic = [sum(Fraction(1, j) for j in range(1, k + 1)) for k in range(n + 1)]
    assert span.mass_by_distance == pytest.approx(
        [2 * float(harmonic[n] - harmonic[d]) for d in range(n)], rel=1e-6
    )


def test_attention_span_leaves_no_hooks_and_refuses_what_it_cannot_read():
    spec = pc.Transformer(16, 2, 32, 1)
    model = pc.build(spec)
    pc.advisor.attention_span(model, torch.randn(1, 8, 16))
    assert all(not m._forward_hooks for m in model.modules())
    with pytest.raises(ValueError, match="explicit attention"):
        pc.advisor.attention_span(pc.build(spec, "sdpa"), torch.randn(1, 8, 16))
    with pytest.raises(ValueError, match="explicit attention"):
        pc.advisor.attention_span(pc.build(pc.LSTM(16)), torch.randn(1, 8, 16))
    with pytest.raises(ValueError, match="batch must be"):
        pc.advisor.attention_span(model, torch.randn(8, 16))
    for query in (8, -9, 1.5, "last"):
        with pytest.raises(ValueError, match="query must be a position -8 .. 7"):
            pc.advisor.attention_span(model, torch.randn(1, 8, 16), query=query)
    with pytest.raises(ValueError, match="module must be a torch.nn.Module"):
        pc.advisor.attention_span(spec, torch.randn(1, 8, 16))


# --- the standard library as a corpus ---------------------------------------------------------
SOURCE = '''\
@decorator
def f(a, b):
    # a comment is not a token
    return (a + b) * [1, 2][0]


async def g():
    pass
x = {"é": 1}
'''
# significant tokens: def f ( a , b ) : | return ( a + b ) * [ 1 , 2 ] [ 0 ]  -> f has 23
# async def g ( ) : pass -> g has 7; @ decorator and x = { "é" : 1 } outside functions


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_token_lengths_and_spans_counted_by_hand(tmp_path):
    path = write(tmp_path, "small.py", SOURCE)
    assert pc.advisor.token_lengths([path]).values == (23, 7)
    assert pc.advisor.token_lengths([path], unit="module").values == (2 + 23 + 7 + 7,)
    # ( a , b ) 4; ( a + b ) 4; [ 1 , 2 ] 4; [ 0 ] 2; ( ) 1; { "é" : 1 } 4
    assert pc.advisor.bracket_spans([path]).values == (4, 4, 4, 2, 1, 4)


LAYOUT = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
          tokenize.ENDMARKER, tokenize.ENCODING}  # fmt: skip


def significant(text: str) -> list:
    """The operator strings of text's tokens, "" for other tokens; no layout, no comments."""
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return [t.string if t.type == tokenize.OP else "" for t in tokens if t.type not in LAYOUT]


def segment_tokens(source: str, node) -> int:
    """Significant tokens of a function's own source text (indented as in the file), alone."""
    return len(significant(ast.get_source_segment(source, node, padded=True)))


def depth_scan_spans(tokens) -> list:
    """For each opening bracket, walk forward counting depth until it returns to zero."""
    spans = []
    for i, token in enumerate(tokens):
        if token in ("(", "[", "{"):
            depth = 0
            for j in range(i, len(tokens)):
                depth += tokens[j] in ("(", "[", "{")
                depth -= tokens[j] in (")", "]", "}")
                if depth == 0:
                    spans.append((j, j - i))
                    break
    return [span for _, span in sorted(spans)]  # in the order the pairs close


STDLIB = pc.advisor.stdlib_files(limit=20)


def test_stdlib_files_are_sorted_and_stable():
    assert len(STDLIB) == 20 and all(path.suffix == ".py" and path.is_file() for path in STDLIB)
    assert STDLIB == pc.advisor.stdlib_files()[:20] == pc.advisor.stdlib_files(limit=20)
    root = STDLIB[0].parents[0]
    names = [path.relative_to(root).as_posix() for path in STDLIB]
    assert names == sorted(names) and "abc.py" in names
    assert not any("site-packages" in path.parts for path in pc.advisor.stdlib_files())


def test_stdlib_function_lengths_equal_their_source_segments_tokenized_alone():
    files = [path for path in STDLIB if path.stat().st_size < 60_000]  # segments cost O(file)
    sample = pc.advisor.token_lengths(files)
    expected = []
    for path in files:
        with tokenize.open(path) as file:
            source = file.read()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                expected.append(segment_tokens(source, node))
    assert sample.values == tuple(expected) and sample.skipped == ()
    assert sample.files == len(files) > 10 and len(sample.values) > 100


def test_stdlib_bracket_spans_equal_a_depth_scan():
    sample = pc.advisor.bracket_spans(STDLIB[:8])
    expected = []
    for path in STDLIB[:8]:
        with tokenize.open(path) as file:
            expected += depth_scan_spans(significant(file.read()))
    assert sorted(sample.values) == sorted(expected) and len(expected) > 100
    assert sample.skipped == ()


def test_files_that_fail_are_skipped_and_named(tmp_path):
    good = write(tmp_path, "good.py", SOURCE)
    unterminated = write(tmp_path, "unterminated.py", 'def f():\n    return """never closed\n')
    python2 = write(tmp_path, "python2.py", 'print "hello"\ndef f(): pass\n')
    unmatched = write(tmp_path, "unmatched.py", "x = (1, 2]\n")
    latin = tmp_path / "latin.py"
    latin.write_bytes(b"x = '\xe9'\n")  # no coding cookie: not UTF-8
    paths = [good, unterminated, python2, unmatched, latin]
    functions = pc.advisor.token_lengths(paths)
    failed = (unterminated, python2, unmatched, latin)  # the last three do not parse
    assert functions.skipped == tuple(str(p) for p in failed)
    assert functions.values == (23, 7) and functions.files == 5
    modules = pc.advisor.token_lengths(paths, unit="module")  # python 2 still tokenizes
    assert modules.skipped == (str(unterminated), str(latin))
    assert modules.values == (39, 2 + 6, 7)  # print "hello" def f ( ) : pass; x = ( 1 , 2 ]
    spans = pc.advisor.bracket_spans(paths)
    assert spans.skipped == tuple(str(p) for p in (unterminated, unmatched, latin))


def test_corpus_refuses_missing_files_and_unknown_units(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        pc.advisor.token_lengths([tmp_path / "missing.py"])
    with pytest.raises(ValueError, match="is a directory"):
        pc.advisor.bracket_spans([tmp_path])
    with pytest.raises(ValueError, match="paths must name at least one file"):
        pc.advisor.token_lengths([])
    with pytest.raises(ValueError, match="unit must be one of"):
        pc.advisor.token_lengths(STDLIB[:1], unit="class")
    with pytest.raises(ValueError, match="limit must be an integer >= 1"):
        pc.advisor.stdlib_files(limit=0)


def test_the_readers_files_by_kind(tmp_path):
    source = write(tmp_path, "small.py", SOURCE)
    listed = write(tmp_path, "lengths.txt", "12\n\n7\n300\n")
    text = write(tmp_path, "notes.txt", "one two three\n\nfour five\n 12 \n")
    kinds = [corpus.file_kind(path) for path in (source, listed, text)]
    assert kinds == ["source", "lengths", "text"]
    sample, by_path = corpus.file_lengths([source, listed, text])
    assert sample.values == (23, 7, 12, 7, 300, 3, 2, 1)
    assert by_path == {str(source): "source", str(listed): "lengths", str(text): "text"}
    with pytest.raises(ValueError, match="is empty"):
        corpus.file_kind(write(tmp_path, "blank.txt", "\n  \n"))
    binary = tmp_path / "data.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="not UTF-8 text"):
        corpus.file_kind(binary)
