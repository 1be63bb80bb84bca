"""The advisor: from the reader's data to a model choice ("Choosing a model").

``profiles`` measures what the data asks for (length percentiles, padding, attention bytes,
the memory of a series, where a trained attention model looks); ``corpus`` reads lengths and
bracket spans from the standard library's source or the reader's files; ``choice.recommend`` turns
a span, a length, a budget and a latency target into a choice, with its reasons, among the
candidates whose two axes ``estimates.estimate`` prices (the two of "Beyond the four" included).
"""

from .choice import THRESHOLDS, Reason, Recommendation, recommend
from .corpus import CorpusSample, bracket_spans, stdlib_files, token_lengths
from .profiles import (
    AttentionSpan,
    LengthProfile,
    attention_on,
    attention_span,
    autocorrelation_length,
    length_profile,
)

__all__ = [
    "AttentionSpan",
    "CorpusSample",
    "LengthProfile",
    "Reason",
    "Recommendation",
    "THRESHOLDS",
    "attention_on",
    "attention_span",
    "autocorrelation_length",
    "bracket_spans",
    "length_profile",
    "recommend",
    "stdlib_files",
    "token_lengths",
]
