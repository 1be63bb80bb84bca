"""The book's notation and glossary: one table of symbols, one of terms, and the clash rules.

Both reference pages, "Notation" and "Glossary", are written from these tables
(``write_pages``, or ``python -m pathcost.notation``), so the pages cannot drift from them.
One symbol means one thing in the whole book. A letter that used to mean two things has a
``Clash`` row: the patterns of the meaning it lost, and what to write instead.
``book_offences`` finds every line of a chapter's prose, math, captions and code-cell
strings, and every string of a figure module, that still uses a symbol in a lost meaning.
"""

import ast
import io
import re
import sys
import textwrap
import tokenize
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Symbol:
    """One row of the notation table: how a symbol is written, what it means, its unit, and
    the doc name (such as "routing_graphs") of the chapter that introduces it."""

    symbol: str
    meaning: str
    unit: str
    chapter: str


@dataclass(frozen=True)
class Term:
    """One glossary entry: the term, a definition of one to three lines, the doc name of the
    chapter that develops it, and optionally a MyST target in that chapter."""

    term: str
    definition: str
    chapter: str
    anchor: str | None = None


@dataclass(frozen=True)
class Clash:
    """A symbol that meant two things: the meaning it lost, what to write for that meaning
    instead, and regular expressions that find the lost meaning in a line of text."""

    symbol: str
    lost: str
    instead: str
    patterns: tuple[str, ...]


@dataclass(frozen=True)
class Offence:
    """One line that uses a symbol in a meaning the table does not give it."""

    path: str
    line: int
    clash: Clash
    text: str


SYMBOLS = (
    # Axis 1: positions, distances and the three numbers of the routing graph.
    Symbol("n", "sequence length: the tokens of one sequence", "tokens", "primer"),
    Symbol("t", "a position in the sequence; for a recurrence also the step", "position",
           "primer"),
    Symbol("i, j", "an input position and an output position", "position", "routing_graphs"),
    Symbol("Δ", "distance between two positions, Δ = |i − j|: output t reads input t − Δ. "
           "A dependency's span and a gradient's steps back are such distances",
           "positions", "routing_graphs"),
    Symbol("L", "path length L(Δ): the fewest hops that carry information from input i to "
           "output j (∞ when no route exists)", "hops", "routing_graphs"),
    Symbol("S", "sequential steps S(n): the longest chain of operations a forward pass must "
           "run one after another (the critical path)", "steps", "routing_graphs"),
    Symbol("R", "receptive field: how many input positions one output can read, in any "
           "stack: 1 + (k − 1) Σ δ_l for convolutions, 1 + w D (causal) or 1 + 2 w D (both "
           "sides) for windowed attention, ∞ for recurrences and full attention",
           "positions", "routing_graphs"),
    Symbol("D", "depth: the number of layers of a model (`layers` in a spec)", "layers",
           "routing_graphs"),
    Symbol("l", "a layer's index, 1 to D (layer 0 is the input)", "—", "routing_graphs"),
    Symbol("k", "a convolution's kernel width: the taps one layer reads", "positions",
           "primer"),
    Symbol("δ_l", "the dilation of layer l (δ for any one layer): its taps are δ_l positions "
           "apart", "positions", "primer"),
    Symbol("w", "attention window radius: query t sees the keys t − w to t (causal) or "
           "t − w to t + w (both sides), w + 1 or 2w + 1 keys", "positions", "routing_graphs"),
    Symbol("s", "stride: a strided convolution merges every s positions into one token",
           "positions", "cutting_n2"),
    Symbol("x(t), y(t)", "the input and the output at position t (also x_i, y_j)", "vectors",
           "primer"),
    Symbol("h(t)", "a recurrence's hidden state at position t, always written with its "
           "position (h_t, h(t − 1)); bare h is the number of heads", "vector of width d",
           "primer"),
    # Gradients through a recurrence.
    Symbol("a", "the coefficient of a one-number recurrence h(t) = a h(t − 1) + x(t), or of "
           "an AR(1) series", "—", "gradient_decay"),
    Symbol("J(t)", "the Jacobian of one state transfer, ∂h(t) / ∂h(t − 1)", "matrix",
           "gradient_decay"),
    Symbol("W, W_x, W_h", "weight matrices: any weight matrix W, an RNN's input weights W_x "
           "and recurrent weights W_h (W_xf, W_hf: the forget gate's)", "matrix", "primer"),
    Symbol("b_x, b_c, b_f", "biases, always with a subscript: the input projection's b_x, a "
           "convolution's b_c, the forget gate's b_f (bare b is bytes per element)", "—",
           "primer"),
    Symbol("c(t)", "the LSTM's cell state at position t", "vector of width d", "primer"),
    Symbol("f(t), i(t), g(t), o(t)", "the LSTM's forget gate, input gate, candidate and "
           "output gate at step t (PyTorch's names), always written with their step",
           "vectors of width d", "primer"),
    Symbol("γ", "a typical value of the forget gate; γ = σ(b_f) when its other inputs are 0",
           "—", "gradient_decay"),
    Symbol("σ", "the sigmoid, σ(x) = 1 / (1 + e^(−x))", "—", "primer"),
    Symbol("ρ", "spectral radius: the largest absolute eigenvalue of a matrix", "—",
           "primer"),
    Symbol("λ", "an eigenvalue", "—", "primer"),
    Symbol("O", "an orthogonal matrix, Oᵀ O = Id (O(·) with an argument is big-O)",
           "matrix", "gradient_decay"),
    Symbol("Id", "the identity matrix", "matrix", "gradient_decay"),
    Symbol("E, η", "the coupling of a non-normal matrix O (ρ Id + η E) Oᵀ: E pairs "
           "coordinates, η is its strength", "—", "gradient_decay"),
    Symbol("G(Δ)", "the norm of the gradient that reaches Δ positions back, "
           "‖∂y(t) / ∂x(t − Δ)‖", "—", "gradient_decay"),
    Symbol("r", "the per-step factor of a gradient curve, G(Δ) ≈ G(0) r^Δ", "—",
           "gradient_decay"),
    Symbol("ε, Δ_ε", "a fraction of a signal to keep, and the steps Δ_ε that keep it",
           "—, steps", "gradient_decay"),
    Symbol("τ", "truncation length: truncated backpropagation cuts the gradient every τ "
           "steps", "steps", "gradient_decay"),
    Symbol("ℓ", "the loss", "—", "gradient_decay"),
    # Tasks and data.
    Symbol("C", "the number of classes: a copy task's letters, a language model's "
           "vocabulary", "classes", "long_range_tasks"),
    Symbol("a_chance, a_bag", "accuracies: of guessing, and of the best order-blind model",
           "fraction", "long_range_tasks"),
    Symbol("c_v", "how often letter v occurs in a sequence", "tokens", "long_range_tasks"),
    # Axis 2: sizes, FLOPs, bytes and seconds.
    Symbol("d", "model width d_model: the vector each position carries between layers",
           "elements", "primer"),
    Symbol("h", "the number of attention heads", "heads", "counting_compute"),
    Symbol("d_k", "the width of one head, d_k = d / h", "elements", "counting_compute"),
    Symbol("f", "the FFN's hidden width, d_ff (written either way)", "elements",
           "counting_compute"),
    Symbol("B", "batch size: sequences processed together", "sequences", "counting_compute"),
    Symbol("Q, K, V", "queries, keys and values: the three projections attention makes",
           "matrices", "counting_compute"),
    Symbol("A", "the attention weights, softmax(Q Kᵀ / √d_k)", "matrix", "counting_compute"),
    Symbol("F", "a number of FLOPs (F_RNN, F_core, ...)", "FLOPs", "counting_compute"),
    Symbol("n_pairs", "the (query, key) pairs per head a kernel scores", "pairs",
           "counting_compute"),
    Symbol("b", "bytes per element of a tensor's dtype: 2 for float16 and bfloat16, 4 for "
           "float32", "bytes", "memory"),
    Symbol("M", "a number of bytes, the subscript says which (M_weights, M_act, M_KV, "
           "M_opt, M_moved); M alone is a budget or a total", "bytes", "memory"),
    Symbol("o", "an overhead factor on memory", "—", "memory"),
    Symbol("h_kv", "heads of keys and values, each shared by h / h_kv query heads", "heads",
           "inference_traffic"),
    Symbol("I", "arithmetic intensity, I = F / M_moved", "FLOP/byte", "inference_traffic"),
    Symbol("P", "a device's peak: the most FLOPs per second it achieves", "FLOP/s",
           "inference_traffic"),
    Symbol("β", "a device's memory bandwidth", "bytes/s", "inference_traffic"),
    Symbol("N", "the number of parameters (weights and biases) of a model", "parameters",
           "training_budget"),
    Symbol("M_a, M_g", "the bytes one layer saves for backward, and its gradients' bytes",
           "bytes", "training_budget"),
    Symbol("T", "time", "s", "time_parallelism"),
    Symbol("t_step", "the time of one dependent step, however little it computes", "s",
           "time_parallelism"),
    Symbol("U", "utilisation, achieved FLOP/s over the peak: U = (F / T) / P", "—",
           "time_parallelism"),
    Symbol("p", "the exponent of a power law fitted to measurements, T ≈ c n^p", "—",
           "time_parallelism"),
    Symbol("c", "a constant factor, named where it appears (c_w: key blocks per windowed "
           "query block)", "—", "time_parallelism"),
    Symbol("q, k_v", "the rows of a kernel's query tile and the keys of its key tile",
           "positions", "cutting_n2"),
    Symbol("m, q_m", "where a query tile starts, and its rows (fewer in the last tile)",
           "position, rows", "cutting_n2"),
    Symbol("u, n_t", "a pair of query tiles, and the number of key tiles n / k_v", "—",
           "cutting_n2"),
    Symbol("n_pad", "n padded up to a multiple of the stride s", "positions", "cutting_n2"),
    Symbol("n_max", "the longest sequence that fits a memory budget", "tokens", "memory"),
    Symbol("M_1 to M_4", "the largest temporaries of the four moments of a training step",
           "bytes", "training_budget"),
    Symbol("X, Y", "the input and output matrices of one matrix product, Y = X W", "matrix",
           "time_parallelism"),
    Symbol("z(t)", "an LSTM's four gate pre-activations, W_x x(t) + b_x + W_h h(t − 1)",
           "vector of width 4d", "primer"),
)

CLASHES = (
    Clash("k", "an index of tiles", "u", (r"\bk-th pair\b", r"\bk k_v\b",
                                          r"\bfirst k key tiles\b")),
    Clash("k", "steps back, a lag or a distance", "Δ", (
        r"\bk (?:steps?|transfers?|state transfers)\b",
        r"\bk positions? (?:back|earlier|before)\b",
        r"\bproduct of k\b",
        r"[-−]\s?k\b",
        r"ᵏ",
        r"\^\{?k\b(?!\s*[-−]\s*1)",
        r"\*\*k\b",
        r"\b1\s*/\s*k\)",
        r"\bk\s*(?:=|≥|>|<|≤)\s*(?:0|K|n\b|\d{2,}|\{glue)",
        r"\bk\s*≥\s*1\b",
        r"\bk\s*→\s*∞",
        r"\bk_(?:ε|\\varepsilon)",
        r"\b(?:every|large[- ]|span) k\b",
        r"\b(?:geometric|linear) in k\b",
        r"\bk (?:from 0|up to)\b",
        r"\bln\(k\b",
        r"\bg\(k\)",
        r"\b(?:smallest|first) k\b",
        r"\bdistance k\b",
        r"\bk-th (?:root|power)\b",
    )),
    Clash("d", "a dilation", "δ_l", (
        r"\bdilation d\b",
        r"\bd_\{?l\b",
        r"\bdilation d_",
        r"\(k\s*[-−]\s*1\)\s*d\b",
        r"\bd\s*[≤=]\s*s\s*\+\s*1\b",
        r"\btaps d positions\b",
    )),
    Clash("d", "a distance or a span", "Δ", (
        r"\b(?:distances?|span) d\b",
        r"\bd = \\?\|i",
        r"\bL(?:_\{[^}]*\}(?:\})?)?\(d\)",
        r"⌈2?d\s*/",
        r"\\frac\{2?d\}\{k",
        r"\bd positions\b",
        r"\b[ij] [+−-] d\b",
        r"\bsame d\b",
        r"\bgrows like d\b",
        r"\blike d / \(k",
        r"\bd = (?:7|511|513|1000|2047)\b",
        r"\br = \d+, d = ",
        r"\bd = 2048, w = ",
        r"\bd (?:a dependency distance|counts the positions|is a distance|is read as)\b",
        r"\b(?:reading of|reach|cover|linear in|logarithmic in) d\b",
        r"\blog2 d\b",
        r"\bd / \(?s\b",
        r"\(d\s*[-−]\s*1\)\s*/\s*\(k",
        r"\(d = 16 and 64",
        r"\bFor d = 2048\b",
    )),
    Clash("L", "a number of layers", "D", (
        r"\bL (?:layers?|convolutions|pre-norm)\b",
        r"\b(?:stack|each) of L\b",
        r"\blayers L\b",
        r"\bL\s*[-−]\s*1\b",
        r"\bn\s*(?:\+|·|\\cdot)\s*L\b",
        r"\bS = L\b",
        r"2\^\{?L\b",
        r"\\sum_\{l=1\}\^\{L\}",
        r"\bL\s*(?:\\cdot\s*)?B\b",
        r"\bL [ag]\b",
        r"\bL\s*\\Big\[",
        r"\b2nL\b",
        r"\bk = \d+, L = \d+",
        r"\bvalues for L = ",
        r"\bafter L\b",
        r"\bL\s*·\s*w\b",
    )),
    Clash("L", "the loss", "ℓ", (r"∂L\s*/", r"\\partial L\b")),
    Clash("s", "a span", "Δ", (
        r"\bspan(?:\*\*)?\s+s\b",
        r"\bs positions (?:back|before|earlier)\b",
        r"\bn = s \+ 1\b",
        r"\bs \+ 1 (?:steps|tokens)\b",
        r"_\{n-1-s\}",
        r"\bL\(s\)",
        r"\bs ≤ R\b",
        r"(?<![’'])\bs state transfers\b",  # not a possessive: the layer's state transfers
        r"\) / s\b",
        r"\bs = (?:6|12|32)\b",
        r"\bs = 4 letters\b",
        r"\bthe s values\b",
        r"\bc_v / s\b",
        r"\\text\{bag\}\}\(s\)",
        r"Multinomial\}?\\left\(s\b",
        r"\\right\]\}\{s\}",
        r"sqrt\(s\)",
        r"\bexactly s\b",
        r"\bto s\s*[-−]\s*1\b",
        r"\b(?:against|reach) s\b",
        r"⌈s / 2⌉",
        r"\blog2 s\b",
    )),
    Clash("s", "an attention score", "words", (r"\bs_1\b", r"e\^\(s_", r"\(s_m\)")),
    Clash("s", "a coupling strength", "η", (r"\+ s N\b", r"\bstrength s\b")),
    Clash("s", "a count of state transfers", "words", (r"\bafter s transfers\b",
                                                       r"\bsmallest s at\b")),
    Clash("s", "the reach of the layers below", "R − 1", (r"\bs = \(k\s*[-−]\s*1\)",
                                                          r"≤ s \+ 1\b", r"\bd = s \+ 1\b")),
    Clash("R", "a field of convolutions only", "the receptive field of any stack", (
        r"convolution's \*?receptive field",
        r"one output of a convolution stack reads",
    )),
    Clash("w", "bytes per weight", "b", (r"\bin w bytes\b", r"\bw bytes each\b",
                                         r"\bP w\b", r"\b(?:differ in|scales with) w\b")),
    Clash("W", "a number of FLOPs", "F", (r"\bdoes W FLOPs\b", r"\\frac\{W\}\{P\}",
                                          r"\bW / [PT]\b", r"\blarger W\b")),
    Clash("W", "memory bandwidth", "β", (r"/ W\)", r"\bbandwidth W\b", r"\bmeasure W\b",
                                         r"\bI · W\b", r"\bmoves W bytes\b", r"\bP / W\b",
                                         r"\bP and W\b")),
    Clash("W", "a window size in keys", "w + 1 (causal) or 2w + 1 (both sides)", (
        r"\bW = w \+ 1\b", r"\bW keys\b", r"\bn W\b", r"\bW = \{glue", r"\bsize W\b",
        r"× W\)", r"\(1 × W\)", r"\bis W times\b", r"\bn / W\b", r"\bW = 256\b",
        r"\bits W keys\b", r"\bW d\b",
    )),
    Clash("f", "the forget gate's typical value", "γ (the gate itself: f(t))", (
        r"\bf\s*[≈=]\s*(?:σ|\\sigma|ε|0\.01|\{glue)",
        r"\b(?:around|averages|base|value|that|of) f\b",
        r"\bf\s*\^",
        r"\(1/f\)",
        r"\\frac\{1\}\{f\}",
        r"\bf / \(1\s*[-−]\s*f\)",
        r"\(1\s*[-−]\s*f\)",
        r"\bby f once\b",
        r"\bf ⊙",
        r"\bf = 1/\(1",
        r"\b1/f\b",
    )),
    Clash("f", "a gate written without its step", "f(t), i(t), g(t), o(t)", (
        r"\b(?:forget|input|output) gate [fio]\b(?!\()", r"\bgates i, f\b", r"\b[ifo] ⊙ ",
        r"⊙ g\b(?!\()",
    )),
    Clash("B", "bytes moved", "M_moved", (r"\bF / B\b", r"\bB / W\b", r"\bmoves B bytes\b",
                                          r"\bF and B\b", r"\bbytes B\b")),
    Clash("P", "a number of parameters", "N", (r"\bP parameters\b", r"\bP w\b",
                                               r"\bM = P\b")),
    Clash("P", "a number of pairs", "n_pairs", (r"\bP\(n\)", r"\bP_\{?\\text\{tiled",
                                                r"\bd P FLOPs\b", r"\bP = k_v",
                                                r"\bP / n²")),
    Clash("b", "a bias", "b_x or b_f", (r"\+ b \+", r"\bb \+ W", r"\bW_h, b\b",
                                        r"\bGELU\(b\b", r"x\(t\) \+ b\b", r"e\^\(-b\)",
                                        r"\bb = \\operatorname")),
    Clash("b", "a count or a constant", "words or c", (r"\bb P w\b", r"\ba \+ b n\b")),
    Clash("K", "a truncation length", "τ", (
        r"\bK (?:steps|- 1|− 1)\b", r"\bK = 256\b", r"\bk (?:≥|=) K\b",
        r"\b(?:than|beyond|window|truncation) K\b", r"\bchunks of K\b", r"\bmod K\b",
        r"\btruncated, K =", r"\bat k = K\b",
    )),
    Clash("K", "a count of key tiles", "n / k_v", (r"\bK \(K \+ 1\)", r"\bK = n / k_v\b")),
    Clash("T", "the last position", "t", (
        r"\bh\s*\(T\)", r"\bh_T\b", r"_\{T", r"\bJ_T\b", r"\bT\s*[-−]\s*k\b", r"\bx\(T",
        r"\by\(T\)", r"∂y_T\b", r"\bposition T\b",
    )),
    Clash("N", "a count of held-out sequences or a matrix", "words; E", (
        r"\bN = \{glue", r"\bN counts\b", r"\(N = ", r"\bs N\b", r"\bN couples\b",
    )),
    Clash("S", "bytes of optimizer state", "M_opt", (r"\bS_\{?\\?(?:text\{)?opt",)),
    Clash("g", "gate blocks or gradient bytes", "words; M_g", (
        r"\bB g d", r"\bg = 1 gate\b", r"\bg gradient bytes\b", r"\+ g \+", r"\bL g\b",
    )),
    Clash("r", "a radius, a dilation or a shrink factor", "words; δ_l; c", (
        r"\bradius r\b", r"\br = k\s*[-−]\s*1\b", r"\br = \(k", r"\br = [12]\b",
        r"/ r⌉", r"\bwrites r\b", r"\(k\s*[-−]\s*1\) r\b", r"\bby a factor r\b", r"\br² times\b",
    )),
    Clash("V", "a vocabulary size", "C", (r"\bV = \d", r"\bvocabulary of V\b",
                                          r"\bV d weights\b", r"\bB n V\b", r"c_V\b",
                                          r"\{1\}\{V\}", r"\b1/V\b")),
    Clash("Q", "an orthogonal matrix", "O", (r"ρ\s*Q\b", r"\\rho\\?,?\s*Q\b",
                                             r"orthogonal\s+matrix\s+Q\b", r"Q\^\\top",
                                             r"Qᵀ", r"\bQ \(ρ", r"\b0\.9 Q\b")),
    Clash("I", "the identity matrix", "Id", (r"\bQ = I\b", r"\bU = I\b", r"ρ I\b")),
    Clash("U", "input weights", "W_x", (r"\+ U x", r"\bU = I\b", r"\bU_f\b")),
    Clash("F", "a recurrence's step function", "cell", (r"= F\(h",)),
    Clash("A", "any matrix", "W", (r"‖A\b", r"\bA_ij", r"\bA stretches\b")),
    Clash("a", "bytes per layer", "M_a", (r"\bL a\b", r"\bits a\b", r"\ba saved bytes\b",
                                          r"\ba \+ L g\b")),
    Clash("ε", "Adam's epsilon", "eps", (r"\bε = 10",)),
    Clash("ℓ", "a running sum", "words", (r"\brunning sum ℓ", r"\bdivided by ℓ")),
    Clash("G", "a number of devices", "words", (r"\bG devices\b",)),
    Clash("t", "bytes of temporaries", "M_1 to M_4", (r"\bt_\{?[fbeo]\b", r"\bthe t are\b")),
    Clash("p", "a percentage", "words", (r"\bp %",)),
    Clash("c", "the key blocks of a window", "c_w", (r"\bc = [23]\b", r"\(c w\)",
                                                     r"\bc\\?,? w\b")),
)

TERMS = (
    Term("activations", "The tensors a forward pass computes inside the model. Autograd keeps "
         "some of them, the saved tensors, until the backward pass has used them.", "memory"),
    Term("Adam", "An optimizer that keeps two running averages (moments) of every weight's "
         "gradient and scales each step by them; AdamW adds decoupled weight decay.",
         "training_budget"),
    Term("arithmetic intensity", "FLOPs per byte moved, I = F / M_moved. Below the device's "
         "ridge an operation is limited by memory bandwidth, above it by arithmetic.",
         "inference_traffic"),
    Term("attention", "A layer in which every position takes a weighted average of the "
         "values of the positions it may see, weighted by how well its query matches their "
         "keys.", "primer"),
    Term("attention window", "A limit on the keys a query sees: with radius w, query t sees "
         "the keys within w positions of t. It makes attention's cost linear in n and a "
         "path ⌈Δ / w⌉ hops long.", "cutting_n2"),
    Term("autocast", "PyTorch's mixed-precision mode, torch.autocast: chosen operations such "
         "as matrix products run in a 16-bit type while the weights stay in float32.",
         "training_budget"),
    Term("autograd", "PyTorch's automatic differentiation: it records the operations of the "
         "forward pass so that backward() can compute every gradient by the chain rule.",
         "routing_graphs"),
    Term("backward pass", "The second half of a training step: gradients flow from the loss "
         "back through every operation, in reverse order.", "memory"),
    Term("bag of tokens", "What a model that ignores order sees of a sequence: how often each "
         "token occurs, not where.", "long_range_tasks"),
    Term("batch", "Several sequences processed together in one pass; B is how many.",
         "counting_compute"),
    Term("bfloat16", "A 16-bit floating-point type with float32's range and fewer digits; "
         "float16 keeps more digits but has a much smaller range.", "memory"),
    Term("bucket", "A group of sequences of similar length, padded only to the longest in "
         "the group instead of the longest of all.", "choosing_a_model"),
    Term("causal", "Reading only the past: position t sees positions up to t, never later "
         "ones, as a model that predicts the next token must.", "routing_graphs"),
    Term("cell state", "The LSTM's second state c(t), carried from step to step and scaled "
         "by the forget gate once per step.", "primer"),
    Term("centred convolution", "A convolution padded on both sides, so that output t reads "
         "(k − 1) / 2 positions on each side of t.", "receptive_fields"),
    Term("chance level", "The accuracy of guessing without looking at the input: 1 / C for C "
         "equally likely classes.", "long_range_tasks"),
    Term("checkpointing", "Trading compute for memory: a checkpointed layer keeps only its "
         "input and runs its forward pass again during the backward pass.",
         "training_budget"),
    Term("CNN", "A convolutional network: a stack of convolutions, each layer mixing k "
         "neighbouring positions with the same weights at every position.",
         "primer"),
    Term("computation graph", "A model's operations drawn as nodes, with an edge wherever one "
         "result is computed directly from another.", "routing_graphs"),
    Term("critical path", "The longest chain of operations in which each must wait for the "
         "one before; no hardware can run a forward pass in fewer steps.", "routing_graphs"),
    Term("crossover", "The length n from which one cost exceeds another, such as attention's "
         "n² products overtaking the FFN.", "counting_compute"),
    Term("d_model", "The model width d: the length of the vector that stands for each "
         "position between layers.", "primer"),
    Term("data parallelism", "Splitting a batch across devices: more sequences per second, "
         "the same time for each one.", "time_parallelism"),
    Term("decode", "Generating text one token per step, each step reading what the decoder "
         "kept from the tokens before; the prefill reads the prompt first.",
         "inference_traffic"),
    Term("decoder", "A causal model that predicts each next token from the ones before it; "
         "an encoder lets every position see both sides.", "counting_compute"),
    Term("dilation", "The spacing of a convolution's taps: with dilation δ a kernel of width "
         "k reads positions δ apart and spans (k − 1) δ + 1 positions.", "receptive_fields"),
    Term("fixed cost", "What every operation pays before any arithmetic, however small: "
         "Python, PyTorch's dispatcher, memory for the result and, on a GPU, a kernel "
         "launch.", "time_parallelism"),
    Term("downsampling", "Shortening a sequence before the model reads it, here with a "
         "strided convolution that merges every s positions into one token.", "cutting_n2"),
    Term("eigenvalue", "A number λ with W v = λ v for some vector v that is not zero: along "
         "v the matrix only stretches, by λ.", "gradient_decay"),
    Term("elementwise product", "Multiplying two vectors entry by entry, written ⊙; an LSTM's "
         "gates scale its cell state this way.", "primer"),
    Term("embedding", "A learned table that turns each token id into a vector of width d.",
         "long_range_tasks"),
    Term("epoch", "One pass over the whole training set.", "capstone"),
    Term("FFN", "The feed-forward network of a Transformer block: two linear layers with a "
         "GELU between them, d → d_ff → d, applied to every position on its own.",
         "primer"),
    Term("FLOP", "One floating-point operation, a multiplication or an addition; FLOP/s "
         "counts them per second.", "counting_compute"),
    Term("FLOP counter", "PyTorch's torch.utils.flop_counter.FlopCounterMode, which counts "
         "the FLOPs of the matrix products and convolutions a module runs.",
         "counting_compute"),
    Term("forget gate", "The LSTM gate f(t) that scales the cell state once per step; its "
         "bias b_f sets how much it keeps when its inputs are small.", "gradient_decay"),
    Term("Frobenius norm", "The square root of the sum of the squares of a matrix's entries, "
         "written ‖·‖_F.", "gradient_decay"),
    Term("fused kernel", "One routine that runs several operations without writing their "
         "intermediate results to memory, such as FlashAttention's tiled softmax.",
         "cutting_n2"),
    Term("GELU", "The smooth activation between the FFN's two linear layers: x times the "
         "probability that a standard normal variable lies below x.", "primer"),
    Term("gradient", "The derivatives of the loss with respect to a tensor: the direction in "
         "which training moves it.", "gradient_decay"),
    Term("gridding", "Holes in a dilated stack's receptive field: positions inside its span "
         "that no route reaches.", "receptive_fields"),
    Term("grouped-query attention", "Attention in which several query heads share one head of "
         "keys and values, which shrinks the KV cache; multi-query attention shares one "
         "among all heads.", "inference_traffic"),
    Term("heads", "Attention's parallel copies: h heads of width d_k = d / h, each scoring "
         "every pair of positions with its own queries and keys.", "primer"),
    Term("gate", "A vector of numbers between 0 and 1 (a sigmoid's output) that scales another "
         "vector entry by entry: an LSTM's f(t), i(t) and o(t). The candidate g(t), computed "
         "beside them with a tanh (between −1 and 1), is what the input gate lets in.",
         "primer"),
    Term("held-out set", "Data kept out of training and used only to measure accuracy.",
         "long_range_tasks"),
    Term("hidden state", "The vector h(t) a recurrence carries from one position to the "
         "next: its summary of everything read up to t.", "routing_graphs"),
    Term("hop", "One move of information between positions in the routing graph: a layer of "
         "a stack, or a state transfer of a recurrence.", "routing_graphs"),
    Term("input projection", "The product W_x x(t) that brings the input at position t into a "
         "recurrence; it moves information to no other position, so it is not a hop.",
         "routing_graphs"),
    Term("Jacobian", "The matrix of derivatives of one vector with respect to another, such "
         "as ∂y_j / ∂x_i; it is exactly zero when no route joins the two.", "routing_graphs"),
    Term("kernel", "Two meanings: the weights a convolution slides along the sequence (its "
         "width is k), and a compiled routine that runs one operation on a device.",
         "primer"),
    Term("KV cache", "The keys and values a Transformer decoder keeps for the tokens it has "
         "seen, so that a new token does not recompute them.", "memory"),
    Term("latency", "The time until one sequence's output is ready.", "time_parallelism"),
    Term("LayerNorm", "Layer normalisation: each position's vector is shifted to mean 0 and "
         "scaled to variance 1, then scaled and shifted by learned weights.", "primer"),
    Term("logits", "A classifier's raw scores, one per class, before softmax turns them into "
         "probabilities.", "long_range_tasks"),
    Term("loss", "The number training makes smaller, such as the cross-entropy of the "
         "predicted labels; ℓ in formulas.", "gradient_decay"),
    Term("LSTM", "Long short-term memory: a recurrence whose gates decide, at every step, how "
         "much of its cell state to forget, to add and to output.", "primer"),
    Term("MAC", "A multiply-accumulate: one multiplication and one addition into a running "
         "sum, two FLOPs.", "counting_compute"),
    Term("memory bandwidth", "The bytes per second a device moves between its memory and its "
         "arithmetic units, β.", "inference_traffic"),
    Term("meta device", "PyTorch's shape-only device: tensors on it have shapes but no "
         "storage, so a model can be run for counting without computing anything.",
         "counting_compute"),
    Term("linear attention", "Attention whose weights are products of positive features, "
         "φ(q_t) · φ(k_s), instead of a softmax: the sum over keys becomes prefix sums of "
         "d_k × d_k states, so it costs O(n) and decodes from a state of fixed size, at the "
         "price of exact recall.", "beyond"),
    Term("MiB", "A mebibyte, 2^20 bytes; a GiB is 2^30. MB and GB are 10^6 and 10^9 bytes.",
         "memory"),
    Term("mixed precision", "Running most arithmetic in a 16-bit type while the weights stay "
         "in float32; autocast does it in PyTorch.", "training_budget"),
    Term("normal matrix", "A matrix that commutes with its transpose, as orthogonal and "
         "symmetric ones do; the norms of its powers follow its spectral radius exactly.",
         "gradient_decay"),
    Term("optimizer state", "What an optimizer keeps between steps besides the weights: one "
         "buffer for SGD with momentum, two moments for Adam.", "training_budget"),
    Term("orthogonal matrix", "A square matrix O with Oᵀ O = Id: it rotates or reflects "
         "vectors without stretching them.", "gradient_decay"),
    Term("P90", "The 90th percentile: the smallest value with at least 90% of the data at or "
         "below it (the nearest rank); P50 is the median.", "choosing_a_model"),
    Term("padding", "Zero positions added to make a sequence, or a convolution's input, as "
         "long as required.", "receptive_fields"),
    Term("parallel scan", "All prefixes of an associative combine, x_0, x_0 ∘ x_1, "
         "x_0 ∘ x_1 ∘ x_2, ..., computed in about 2 log2 n dependent levels instead of n "
         "steps; a linear recurrence is one.", "beyond"),
    Term("path length", "L: the fewest hops that carry information from input position i to "
         "output position j in a model's routing graph; ∞ when no route exists.",
         "routing_graphs"),
    Term("peak FLOP/s", "The most FLOPs per second a device achieves, P; this book times a "
         "large matrix product to measure it.", "time_parallelism"),
    Term("permutation equivariant", "Reordering the inputs only reorders the outputs the "
         "same way. Attention without positional encoding is, so it cannot tell the order "
         "of its inputs.", "primer"),
    Term("positional encoding", "Position signals added to a Transformer's input, here fixed "
         "sines and cosines; without them attention cannot tell positions apart.",
         "primer"),
    Term("prefill", "The first phase of inference: the prompt's n tokens in one parallel "
         "forward pass.", "inference_traffic"),
    Term("query", "What attention compares a position with: its query is matched against "
         "every key, and the values of the best matches are averaged. Q, K and V are the "
         "three projections.", "primer"),
    Term("receptive field", "R: how many input positions one output can read, in any stack: "
         "1 + (k − 1) Σ δ_l for convolutions, 1 + w D for causal windowed attention, "
         "unbounded for recurrences and full attention.", "receptive_fields"),
    Term("recurrence", "A model, such as an RNN or an LSTM, that computes its state at "
         "position t from its state at t − 1 and the input at t.", "primer"),
    Term("residual connection", "Adding a block's input to its output, x + block(x), so "
         "that information and gradients can pass the block unchanged.", "primer"),
    Term("ridge", "The arithmetic intensity P / β at which a device's bandwidth roof "
         "meets its compute roof.", "inference_traffic"),
    Term("RNN", "A recurrent network, h(t) = tanh(W_x x(t) + b_x + W_h h(t − 1)): one cell "
         "applied at every position in turn (the Elman RNN).", "primer"),
    Term("roofline", "The bound T ≥ max(F / P, M_moved / β): a computation is no faster than "
         "the device's arithmetic peak or its memory bandwidth allows.",
         "inference_traffic"),
    Term("routing graph", "A model unrolled over positions and layers, with an edge wherever "
         "information moves in one step; path length and sequential steps are read off "
         "it.", "routing_graphs"),
    Term("sdpa", "PyTorch's F.scaled_dot_product_attention, which runs a fused attention "
         "kernel; a model built with attention=\"sdpa\" uses it.", "memory"),
    Term("sequential steps", "S: the longest chain of operations a forward pass must run one "
         "after another; n + D − 1 for a recurrence, D for a stack.", "routing_graphs"),
    Term("sigmoid", "σ(x) = 1 / (1 + e^(−x)): a smooth step from 0 to 1, used by an LSTM's "
         "gates.", "primer"),
    Term("softmax", "Turns a row of scores into weights that are positive and add up to 1: "
         "each score's exponential over the sum of the row's exponentials.",
         "primer"),
    Term("span", "The distance Δ from the token that decides an answer to the position that "
         "gives it; a data set has a distribution of spans.", "long_range_tasks"),
    Term("spectral radius", "ρ: the largest absolute value of a matrix's eigenvalues, the "
         "rate at which its powers grow or shrink in the long run.", "gradient_decay"),
    Term("standard error", "The typical error of an estimate from a sample; for an accuracy "
         "it shrinks like one over the square root of the number of examples.",
         "long_range_tasks"),
    Term("state transfer", "One step h(t − 1) → h(t) of a recurrence: the only hop that "
         "moves information along the sequence in a recurrent model.", "routing_graphs"),
    Term("stride", "How far a convolution moves between outputs; with stride s it merges "
         "every s positions into one token.", "cutting_n2"),
    Term("throughput", "Work done per second, here sequences or tokens per second.",
         "time_parallelism"),
    Term("tile", "A block of queries or keys that a fused kernel works on at once, small "
         "enough for the device's fast on-chip memory.", "cutting_n2"),
    Term("token", "One position of a sequence: a word piece, a character or a bracket. A "
         "model reads n of them.", "primer"),
    Term("Transformer", "A stack of blocks, each attention followed by an FFN, with residual "
         "connections and LayerNorm.", "primer"),
    Term("truncated backpropagation", "Training a recurrence on chunks of τ steps: the state "
         "passes forward across a chunk's end, its gradient is cut there.",
         "gradient_decay"),
    Term("unroll", "To draw a recurrence as one copy of its cell per position, so that its "
         "loop becomes a chain.", "routing_graphs"),
    Term("utilisation", "Achieved FLOP/s over the device's peak, U = (F / T) / P.",
         "time_parallelism"),
    Term("vanishing gradient", "A gradient that shrinks geometrically with the distance it "
         "travels, so distant inputs barely train; an exploding gradient grows the same "
         "way.", "gradient_decay"),
)

_COMPILED = tuple((clash, tuple(re.compile(p) for p in clash.patterns)) for clash in CLASHES)
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*(\{[\w-]+\})?")
_INLINE_CODE = re.compile(r"`[^`]*`")
_TARGET = re.compile(r"^\(\S+\)=\s*$")  # a MyST target, (label)=


def _body_start(lines: list[str]) -> int:
    """Index of the first line after a YAML front matter (0 when there is none)."""
    if lines and lines[0].strip() == "---":
        for index in range(1, len(lines)):
            if lines[index].strip() == "---":
                return index + 1
    return 0


def _strings_and_comments(source: str, first: int) -> list[tuple[int, str]]:
    """(line, text) of every string literal and comment of Python `source`, lines from `first`.

    A cell or module that does not tokenize gives nothing; its own test run shows the error.
    """
    found = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type in (tokenize.STRING, tokenize.COMMENT):
                found.append((first + token.start[0], token.string))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []
    return found


def prose_lines(markdown: str) -> list[tuple[int, str]]:
    """(line number, text) of everything a reader reads in a MyST chapter.

    That is the prose and math outside code cells (inline code and role targets blanked),
    the figure captions and alt text in a code cell's YAML header, and the strings and
    comments of its code. Front matter, fences and directive options are left out.
    """
    lines = markdown.split("\n")
    out, index = [], _body_start(lines)
    while index < len(lines):
        line = lines[index]
        fence = _FENCE.match(line)
        if fence and fence.group(2) == "{code-cell}":
            end = next((j for j in range(index + 1, len(lines))
                        if lines[j].strip() == fence.group(1)), len(lines))  # fmt: skip
            body = index + 1
            if body < end and lines[body].strip() == "---":  # the cell's YAML header
                close = next((j for j in range(body + 1, end) if lines[j].strip() == "---"),
                             end)  # fmt: skip
                out += [(j + 1, lines[j]) for j in range(body + 1, close)]
                body = close + 1
            while body < end and lines[body].lstrip().startswith(":"):  # :tags: options
                body += 1
            out += _strings_and_comments("\n".join(lines[body:end]), body)
            index = end + 1
            continue
        if not fence and not line.lstrip().startswith(":") and not _TARGET.match(line):
            out.append((index + 1, _INLINE_CODE.sub(" ", line)))
        index += 1
    return out


def label_lines(source: str) -> list[tuple[int, str]]:
    """(line number, text) of the string literals of a figure module, docstrings left out:
    its axis labels, legends, titles and annotations."""
    found, depth, starts = [], 0, True  # starts: the next token begins a statement
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING and not (starts and depth == 0):  # not a docstring
            found.append((token.start[0], token.string))
        if token.type == tokenize.OP:
            depth += (token.string in "([{") - (token.string in ")]}")
        if token.type not in (tokenize.COMMENT, tokenize.NL):
            starts = token.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
    return found


def docstring_lines(source: str) -> list[tuple[int, str]]:
    """(line number, text) of every line of the docstrings of a Python module: the module's,
    each class's and each function's, nested ones too, as the API reference renders them."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                 ast.AsyncFunctionDef)):  # fmt: skip
            continue
        first = node.body[0] if node.body else None
        if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)):  # fmt: skip
            found += [(first.lineno + i, text)
                      for i, text in enumerate(first.value.value.split("\n"))]  # fmt: skip
    return sorted(found)


def offences(path: str, lines: list[tuple[int, str]]) -> list[Offence]:
    """Every (line, clash) where a line uses a symbol in a meaning it lost: one offence per
    line and symbol, the first matching clash of that symbol. A use that wraps onto the next
    line counts for the line where it starts."""
    found = []
    for index, (number, text) in enumerate(lines):
        after = lines[index + 1] if index + 1 < len(lines) else (0, "")
        joined = f"{text} {after[1].lstrip()}" if after[0] == number + 1 else text
        seen = set()
        for clash, patterns in _COMPILED:
            if clash.symbol in seen:
                continue
            if any((m := p.search(joined)) and m.start() < len(text) for p in patterns):
                seen.add(clash.symbol)
                found.append(Offence(path, number, clash, text.strip()))
    return found


def chapters(root: Path) -> list[Path]:
    """The chapter files of the table of contents, `root`/_toc.yml, in book order."""
    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    return [Path(root) / f"{name}.md" for name in files]


def book_offences(root: Path) -> list[Offence]:
    """Offences in every chapter of `root`/_toc.yml and every module of src/pathcost/plots."""
    root = Path(root)
    found = []
    for md in chapters(root):
        found += offences(str(md.relative_to(root)), prose_lines(md.read_text()))
    for module in sorted((root / "src" / "pathcost" / "plots").glob("*.py")):
        found += offences(str(module.relative_to(root)), label_lines(module.read_text()))
    return found


def _cell(text: str) -> str:
    """Text for a markdown table cell: a bar would end the cell."""
    return text.replace("|", "\\|")


def notation_page() -> str:
    """The MyST markdown of the "Notation" page, from SYMBOLS and CLASHES."""
    rows = "\n".join(f"| {_cell(s.symbol)} | {_cell(s.meaning)} | {s.unit} | {{doc}}`{s.chapter}` |"
                     for s in SYMBOLS)  # fmt: skip
    lost = "\n".join(f"| {_cell(c.symbol)} | {_cell(c.lost)} | {_cell(c.instead)} |"
                     for c in CLASHES)  # fmt: skip
    return f"""# Notation

One symbol means one thing in the whole book. The first table gives every symbol the
chapters use, its meaning, its unit and the chapter that introduces it; {{doc}}`glossary`
explains the words. Both pages are generated from `pathcost.notation`.

- A letter with a position, such as h(t), x_i or f(t), is a vector at that position; the
  same letter bare is the symbol of the table (h is the number of heads, f the FFN width).
- A subscripted name, such as d_k, d_ff, M_KV or t_step, is a symbol of its own.
- When a chapter quotes a paper in the paper's own letters, it says so and maps them to
  these.

## Symbols

| symbol | meaning | unit | introduced in |
|---|---|---|---|
{rows}

## Meanings a symbol does not have

Some letters once meant two things. Each row names a meaning its symbol lost and what the
book writes for it instead; a test reads every chapter and figure label for them.

| symbol | does not mean | write instead |
|---|---|---|
{lost}
"""


def glossary_page() -> str:
    """The MyST markdown of the "Glossary" page, from TERMS, one ``{glossary}`` entry each."""
    entries = []
    for term in sorted(TERMS, key=lambda t: t.term.lower()):
        where = f"{{ref}}`{term.anchor}`" if term.anchor else f"{{doc}}`{term.chapter}`"
        text = textwrap.fill(f"{term.definition} Developed in {where}.", width=92,
                             initial_indent="   ", subsequent_indent="   ")
        entries.append(f"{term.term}\n{text}")
    body = "\n\n".join(entries)
    return f"""# Glossary

The words the chapters use, each explained in one to three lines, with the chapter that
develops it. A chapter links a term where it first uses it, as {{term}}`path length`;
{{doc}}`notation` lists the symbols.

```{{glossary}}
{body}
```
"""


def write_pages(book: Path) -> list[Path]:
    """Write notation.md and glossary.md into the folder `book`; returns the two paths."""
    book = Path(book)
    written = []
    for name, text in (("notation.md", notation_page()), ("glossary.md", glossary_page())):
        (book / name).write_text(text)
        written.append(book / name)
    return written


def term_pattern(term: str) -> re.Pattern:
    """A pattern for a term in running text: its plural too, any case unless it is an
    acronym (FLOP, but not flop)."""
    stem = re.escape(term).replace(r"\ ", r"[\s-]+")
    flags = 0 if any(c.isupper() for c in term[1:]) else re.IGNORECASE
    return re.compile(rf"(?<![\w`]){stem}(?:s|es)?(?![\w])", flags)


def first_uses(markdown: str) -> dict[str, int]:
    """{term: line of its first use} in a chapter's prose, headings and math left out.

    A term may wrap onto the next line; it counts for the line where it starts.
    """
    prose = [(n, t.strip()) for n, t in prose_lines(markdown)
             if not t.lstrip().startswith(("#", "\\", "|", "---"))]  # fmt: skip
    pairs = [(n, t, f"{t} {prose[i + 1][1]}" if i + 1 < len(prose) else t)
             for i, (n, t) in enumerate(prose)]  # fmt: skip
    found = {}
    for term in TERMS:
        pattern = term_pattern(term.term)
        hit = next((n for n, t, two in pairs
                    if (m := pattern.search(two)) and m.start() < len(t)), None)  # fmt: skip
        if hit is not None:
            found[term.term] = hit
    return found


def main(argv: list[str] | None = None) -> int:
    """``python -m pathcost.notation [--check | --first-uses] [ROOT]``.

    Without an option it rewrites book/notation.md and book/glossary.md under ROOT (the
    current folder by default). ``--check`` prints every offence and returns 1 if there is
    one; ``--first-uses`` prints each chapter's first line for every glossary term.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    mode = args.pop(0) if args and args[0].startswith("--") else "--write"
    if mode not in ("--write", "--check", "--first-uses"):
        raise ValueError(f"mode must be --check or --first-uses, got {mode!r}")
    root = Path(args[0]) if args else Path.cwd()
    if mode == "--write":
        for path in write_pages(root / "book"):
            print(f"wrote {path}")
        return 0
    if mode == "--first-uses":
        for md in chapters(root):
            text = md.read_text()
            if "jupytext:" not in text.split("\n---", 1)[0]:  # a page, not a chapter
                continue
            for term, line in sorted(first_uses(text).items(), key=lambda x: x[1]):
                print(f"{md.relative_to(root)}:{line}: {term}")
        return 0
    found = book_offences(root)
    for o in found:
        print(f"{o.path}:{o.line}: {o.clash.symbol} as {o.clash.lost} "
              f"(write {o.clash.instead}): {o.text}")  # fmt: skip
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
