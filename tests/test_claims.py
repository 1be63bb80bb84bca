"""The appendix's claims: every recomputed value against closed-form arithmetic written here
(or a direct evaluation instead of the package's search), every verdict against the one the
chapters reach, and every row's chapter section against the book."""

import math
import re
from pathlib import Path

import pytest

import pathcost as pc
from pathcost import claims

ROOT = Path(__file__).resolve().parents[1]
MiB, GiB = 2**20, 2**30
n, d, f, h, d_k = 1024, 512, 2048, 8, 64  # the article's compute example
SIX = pc.Transformer(512, 8, 2048, 6)
HOLDS, WRONG, DEPENDS = "holds", "wrong", "depends on convention"


def weights(n, h, B):  # B h n^2 b, float16
    return B * h * n * n * 2


def real_n(ratio):  # the n behind "weights-only n / real n"
    return round(math.isqrt(8 * 10**9 // 32) / ratio)


# key: (the verdict the chapters reach, one closed-form value per reading); None where the
# value is checked by direct evaluation in its own test below
EXPECTED = {
    "decay-0.9-100": (DEPENDS, [0.9**100, 0.9**100]),
    "decay-0.99-100": (HOLDS, [0.99**100, 0.99**100]),
    "decay-0.95-200": (WRONG, [0.95**200, 0.95**200]),
    "decay-0.99-200": (DEPENDS, [0.99**200, 0.99**200]),
    "weights-one-head-8192": (DEPENDS, [weights(8192, 1, 1) / MiB, weights(8192, 1, 1) / 1e6]),
    "weights-b4-2048": (WRONG, [weights(2048, 8, 4) / MiB, weights(2048, 8, 4) / 1e6]),
    "weights-b4-4096": (DEPENDS, [weights(4096, 8, 4) / GiB, weights(4096, 8, 4) / 1e9]),
    "weights-24gb-4096": (DEPENDS, [weights(4096, 8, 2) / MiB, weights(4096, 8, 2) / 1e6]),
    "oom-16gb-8k": (DEPENDS, None),
    "kv-cache-4096": (WRONG, [2 * 4096 * d * 2 / MiB, 2 * 4096 * d * 2 / 1e6]),  # K and V
    "n-max-8gb": (HOLDS, [math.isqrt(8 * GiB // 32), math.isqrt(8 * 10**9 // 32)]),
    "headroom-sqrt": (WRONG, [(math.isqrt(2**28) / math.isqrt(2**26),
                               math.isqrt(2**28) / math.isqrt(2**25))]),
    "headroom-whole-step": (HOLDS, None),
    "macs-rnn": (WRONG, [2 * n * d**2]),  # W_x x and W_h h
    "macs-lstm": (WRONG, [8 * n * d**2]),  # four gates, both products
    "macs-lstm-ratio": (HOLDS, [4]),
    "macs-attention": (WRONG, [2 * n * n * d]),  # QK^T and AV over all heads: 2 n^2 h d_k
    "macs-ffn": (HOLDS, [2 * n * d * f]),
    # attention wins for n > T: n^2 d > 2 n d f; 2 n^2 d > 2 n d f; n (n + 1) d > 2 n d f
    "crossover": (DEPENDS, [2 * f, f, 2 * f - 1]),
    "rf-8-layers": (HOLDS, [1 + 2 * 8]),
    "rf-20-layers": (HOLDS, [1 + 2 * 20]),
    "rf-dilated": (HOLDS, [1 + 2 * (1 + 2 + 4 + 8)]),
    "cover-512-k3": (DEPENDS, [math.ceil(511 / 2), math.ceil(2 * 511 / 2)]),
    "cover-512-r1": (DEPENDS, [math.ceil(2 * 512 / 2), math.ceil(512 / 2)]),
    "cover-256-r2": (DEPENDS, [math.ceil(2 * 256 / 4), math.ceil(256 / 4)]),
    "latency-rnn-512": (HOLDS, [512 * 0.3]),
    "latency-six-layers": (HOLDS, [6 * 0.3]),
    "latency-rnn-1024": (HOLDS, [1024 * 0.2]),
    "steps-ceiling": (HOLDS, [1024, 1024]),
    "steps-transformer": (HOLDS, [6]),
    # w keys per query against n; the blocked causal kernel scores 2w keys per query
    "window-saving": (DEPENDS, [2048 / 256, 2048 / (2 * 256)]),
    "window-path": (HOLDS, [math.ceil(2047 / 256), math.ceil(2048 / 256)]),
    "downsample-quarter": (HOLDS, [(1024 / 2048) ** 2, (1024 / 2048) ** 2]),
    "threshold-n-2048": (DEPENDS, [f, 2 * f - 1]),
    "threshold-span-512": (HOLDS, None),
    "threshold-truncation": (DEPENDS, [256, 255]),  # τ positions, τ - 1 steps back
}
TOPICS = {"gradient decay", "attention weights", "GPU examples", "KV cache",
          "attention/FFN crossover", "layers to cover a distance", "MAC counts",
          "sequential latency", "max n for a budget", "headroom", "window saving",
          "thresholds", "sequential steps"}  # fmt: skip
RESULTS = {r.claim.key: r for r in claims.results()}


def test_every_claim_has_an_expected_verdict_and_enough_rows():
    assert len(claims.CLAIMS) >= 20
    assert len(RESULTS) == len(claims.CLAIMS), "claim keys must be unique"
    assert set(RESULTS) == set(EXPECTED)


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_verdict_matches_the_chapters(key):
    assert RESULTS[key].verdict == EXPECTED[key][0]


@pytest.mark.parametrize("key", sorted(k for k, (_, values) in EXPECTED.items() if values))
def test_recomputed_values_equal_the_closed_forms(key):
    values = RESULTS[key].values
    expected = EXPECTED[key][1]
    assert len(values) == len(expected)
    for value, closed in zip(values, expected):
        assert value == pytest.approx(closed, rel=1e-9)


def test_sixteen_gb_kernels_evaluated_at_8192():
    """At n = 8192 the explicit step exceeds the T4, the fused one fits: one reading agrees."""
    t4 = pc.budget.budget_bytes("t4")
    step = {a: pc.training_memory(SIX, 8192, 1, "mixed-fp16", "adam", attention=a,
                                  lists="cuda").total for a in ("explicit", "sdpa")}  # fmt: skip
    assert step["explicit"] > t4 >= step["sdpa"]
    explicit, fused = RESULTS["oom-16gb-8k"].values
    assert explicit < 8192 < fused


def test_whole_step_headroom_is_the_longest_n_that_fits():
    (ratio,) = RESULTS["headroom-whole-step"].values
    n_real = real_n(ratio)

    def total(m):
        return pc.training_memory(SIX, m, 2, "mixed-fp16", "adam").total

    assert total(n_real) <= 8 * 10**9 < total(n_real + 1)
    assert 3 <= math.isqrt(8 * 10**9 // 32) / n_real <= 4


def test_advisor_turns_to_a_transformer_at_the_long_span_threshold():
    def pick(span):
        return pc.advisor.choice.recommend(span, 4096, device="t4", batch=1, dtype="fp16").choice

    assert pc.advisor.choice.THRESHOLDS["span_long"] == 512
    assert pick(511) not in pc.advisor.choice.TRANSFORMERS
    assert pick(512) in pc.advisor.choice.TRANSFORMERS
    assert RESULTS["threshold-span-512"].values == (512,)


def test_every_verdict_is_one_of_three_and_follows_the_readings():
    for r in RESULTS.values():
        assert r.verdict in (HOLDS, WRONG, DEPENDS)
        expected = HOLDS if all(r.agreements) else DEPENDS if any(r.agreements) else WRONG
        assert r.verdict == expected


def test_every_row_links_a_section_that_exists():
    for row in claims.table():
        chapter = ROOT / "book" / f"{row['doc']}.md"
        assert chapter.exists(), f"{row['key']}: no chapter {row['doc']}"
        assert f"({row['label']})=" in chapter.read_text().splitlines(), (
            f"{row['key']}: {row['doc']} has no label {row['label']}")


def test_the_topics_of_the_issue_are_covered():
    assert TOPICS <= {c.topic for c in claims.CLAIMS}


def test_table_rows_carry_every_column():
    for row in claims.table():
        assert {"claim", "stated", "recomputed", "verdict", "doc", "label"} <= set(row)
        assert row["recomputed"].count("✓") + row["recomputed"].count("✗") == len(
            RESULTS[row["key"]].values)


def test_counts_add_up():
    counts = claims.counts()
    assert sum(counts.values()) == len(claims.CLAIMS)
    assert counts == {v: sum(e[0] == v for e in EXPECTED.values()) for v in (HOLDS, WRONG, DEPENDS)}


@pytest.mark.parametrize("said,relation,value,cut,expected", [
    ("0.000026", "≈", 0.9**100, False, False),  # 2.656e-05 rounds to 0.000027
    ("0.000026", "≈", 0.9**100, True, True),  # ... and cuts to 0.000026
    ("16k", "≈", 15811, False, True),
    ("268M", "≈", 536870912, False, False),
    ("2.1B", "≈", 2147483648, False, True),
    ("1", ">", 1.0, False, False),
    ("8192", "<", 6837, False, True),
    ("3–4", "in", (2.0, 2.83), False, False),
    ("3–4", "in", 3.1, False, True),
    ("1/4", "=", 0.25, False, True),
    ("256", "=", 255, False, False),
])  # fmt: skip
def test_agreement_rule(said, relation, value, cut, expected):
    assert claims.agrees(said, relation, value, cut) is expected


def test_bad_input_is_refused_by_name():
    with pytest.raises(ValueError, match="relation"):
        claims.agrees("1", "~", 1)
    with pytest.raises(ValueError, match="said"):
        claims.stated("about 8")
    with pytest.raises(ValueError, match="agreements"):
        claims.verdict([])
    with pytest.raises(ValueError, match="relation"):
        claims.Claim("k", "t", "about {}", "1", "", "~", (), "memory", "mem-per-head")
    with pytest.raises(ValueError, match="text"):
        claims.Claim("k", "t", "about 1", "1", "", "=", (), "memory", "mem-per-head")


def test_page_generates_the_table_and_types_no_count():
    page = (ROOT / "book" / "rules_of_thumb.md").read_text()
    assert "pc.claims.table()" in page and "pc.claims.counts()" in page
    prose = re.sub(r"```.*?```", "", page, flags=re.S)
    assert not re.search(r"\b\d+ (claims|hold|are wrong)", prose)


def test_gradient_reading_is_the_measured_linear_rnn():
    """The decay values are ||W^Δ||_2 of a linear RNN: equal to ρ^Δ, as the chapter measures."""
    layer = pc.decay.LinearRNNLayer(pc.decay.recurrent_matrix(8, 0.9))
    measured = pc.decay.state_jacobian_norms(layer, pc.models.seeded_input(101, 8))
    assert measured[100].item() == pytest.approx(RESULTS["decay-0.9-100"].values[0], rel=1e-9)
