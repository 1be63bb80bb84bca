"""The book's architectures as frozen specs: what is built, never how it is run.

RNN, LSTM, CNN and Transformer are the four the chapters compare; Hybrid puts a strided
convolution in front of one of them; LinearAttention and LinearRecurrence are the two of
"Beyond the four", which break the four's trade-off in measurable ways. A spec names the
sizes only. The workload (sequence length n, batch, dtype, device) is passed to each
formula or measurement separately, so one spec serves every n.
Every spec validates on construction and raises ValueError naming the bad parameter.
"""

from dataclasses import dataclass, field

from .checks import is_int, require_bool, require_positive


@dataclass(frozen=True)
class Recurrence:
    """What RNN and LSTM share: `layers` stacked recurrent layers of width d_model."""

    d_model: int
    layers: int = 1

    def __post_init__(self):
        require_positive(d_model=self.d_model, layers=self.layers)

    @property
    def causal(self) -> bool:
        """A recurrence carries information forwards only, so this is always True."""
        return True


@dataclass(frozen=True)
class RNN(Recurrence):
    """Elman recurrence h(t) = tanh(W_x x(t) + b_x + W_h h(t-1)): `layers` stacked, d_model wide."""


@dataclass(frozen=True)
class LSTM(Recurrence):
    """LSTM (Hochreiter & Schmidhuber 1997): four gates a step, `layers` stacked, width d_model."""


@dataclass(frozen=True)
class CNN:
    """A stack of `layers` 1-D convolutions of width `kernel`, d_model channels in and out.

    dilations: one per layer; None means every dilation is 1.
    causal=True pads on the left only, so output t of layer l, of kernel width k and
    dilation δ_l, reads inputs t - (k - 1) δ_l ... t; causal=False ("centred") pads both
    sides, so output t reads t -/+ (k - 1) / 2 δ_l, which needs an odd kernel.
    """

    d_model: int
    kernel: int = 3
    layers: int = 8
    dilations: tuple | None = None
    causal: bool = True

    def __post_init__(self):
        require_positive(d_model=self.d_model, kernel=self.kernel, layers=self.layers)
        require_bool(causal=self.causal)
        if not self.causal and self.kernel % 2 == 0:
            raise ValueError(
                f"kernel must be odd for a centred (causal=False) convolution, got {self.kernel}"
            )
        if self.dilations is not None:
            dilations = tuple(self.dilations)
            if len(dilations) != self.layers:
                raise ValueError(
                    f"dilations must have one entry per layer ({self.layers}), "
                    f"got {len(dilations)}: {dilations!r}"
                )
            if not all(is_int(d) and d >= 1 for d in dilations):
                raise ValueError(f"dilations must be integers >= 1, got {dilations!r}")
            object.__setattr__(self, "dilations", dilations)  # a list becomes a hashable tuple

    @property
    def dilation_schedule(self) -> tuple:
        """The dilation of every layer, bottom first (all 1 when `dilations` is None)."""
        return self.dilations if self.dilations is not None else (1,) * self.layers


def _require_blocks(spec) -> None:
    """What Transformer and LinearAttention share: positive sizes, heads dividing d_model,
    and an even d_model for sinusoidal positions; ValueError naming the parameter."""
    require_positive(d_model=spec.d_model, heads=spec.heads, d_ff=spec.d_ff, layers=spec.layers)
    if spec.d_model % spec.heads:
        raise ValueError(
            f"d_model must be divisible by heads, got d_model={spec.d_model}, heads={spec.heads}"
        )
    require_bool(positional=spec.positional)
    if spec.positional and spec.d_model % 2:
        raise ValueError(f"d_model must be even for sinusoidal positions, got {spec.d_model}")


@dataclass(frozen=True)
class Transformer:
    """Pre-norm Transformer blocks (Vaswani et al. 2017): attention, then a GELU FFN, each residual.

    window: local attention radius w (query t sees keys within w positions); None = full.
    causal=True masks the future, as a decoder does; causal=False lets every position see
    both sides, as an encoder does.
    positional=True adds sinusoidal position encodings (Vaswani et al. 2017) to the input;
    without them attention cannot tell positions apart. They cost no FLOPs and no parameters.
    kv_heads: h_kv heads of K and V, each shared by h / h_kv query heads (grouped-query
    attention, Ainslie et al. 2023); None means one per query head (multi-head), 1 is
    multi-query (Shazeer 2019). It must divide heads.
    """

    d_model: int
    heads: int = 8
    d_ff: int = 2048
    layers: int = 6
    window: int | None = None
    causal: bool = True
    positional: bool = False
    kv_heads: int | None = None

    def __post_init__(self):
        _require_blocks(self)
        if self.window is not None:
            require_positive(window=self.window)
        if self.kv_heads is not None:
            require_positive(kv_heads=self.kv_heads)
            if self.heads % self.kv_heads:
                raise ValueError(
                    f"kv_heads must divide heads, got kv_heads={self.kv_heads}, heads={self.heads}"
                )
        require_bool(causal=self.causal)

    @property
    def d_head(self) -> int:
        """Width of one head, d_k = d_model / heads."""
        return self.d_model // self.heads

    @property
    def key_value_heads(self) -> int:
        """The number of K and V heads, kv_heads, or heads when kv_heads is None."""
        return self.heads if self.kv_heads is None else self.kv_heads

    @property
    def group_size(self) -> int:
        """How many query heads share one K and V head, h / h_kv (1 for multi-head)."""
        return self.heads // self.key_value_heads


@dataclass(frozen=True)
class LinearAttention:
    """Pre-norm blocks like Transformer's, with causal linear attention in place of softmax.

    Katharopoulos et al. 2020 ("Transformers are RNNs"): softmax(q_t . k_s) becomes
    φ(q_t) . φ(k_s) with the positive feature map φ(x) = elu(x) + 1, so output t is
    φ(q_t)^T S_t / φ(q_t)^T z_t with S_t = Σ_(s<=t) φ(k_s) v_s^T and z_t = Σ_(s<=t) φ(k_s),
    prefix sums over positions: O(n d d_k) work, and a decoder keeps S and z only (d_k by
    d_k + 1 per head), whatever n is. Always causal; heads must divide d_model.
    positional=True adds sinusoidal position encodings to the input, as for Transformer
    (they cost no FLOPs and no parameters; d_model must then be even).
    """

    d_model: int
    heads: int = 8
    d_ff: int = 2048
    layers: int = 6
    positional: bool = False

    def __post_init__(self):
        _require_blocks(self)

    @property
    def causal(self) -> bool:
        """The prefix sums read positions up to t only, so this is always True."""
        return True

    @property
    def d_head(self) -> int:
        """Width of one head, d_k = d_model / heads."""
        return self.d_model // self.heads


@dataclass(frozen=True)
class LinearRecurrence:
    """A diagonal linear recurrence h_t = a ⊙ h_(t-1) + B x_t, then y_t = GELU(C h_t + c).

    The core of S4, LRU and Mamba-style layers (Orvieto et al. 2023, "Resurrecting
    recurrent neural networks"): a per-channel decay a = sigmoid(λ) in (0, 1), `layers`
    stacked, d_model wide. Nothing nonlinear sits between h_(t-1) and h_t, so the combine
    (a, b) ∘ (a', b') = (a a', a' b + b') is associative and the n states can be computed
    by a parallel scan. scan=False runs the loop, one state transfer per position (n
    sequential steps); scan=True runs the Brent-Kung scan (``linear.scan``), whose longest
    chain in one layer is 2 ceil(log2 n) - 2 combines for n >= 3 (a stack:
    ``formulas.scan.scan_depth``): the same outputs to float rounding.
    """

    d_model: int
    layers: int = 1
    scan: bool = False

    def __post_init__(self):
        require_positive(d_model=self.d_model, layers=self.layers)
        require_bool(scan=self.scan)

    @property
    def causal(self) -> bool:
        """A recurrence carries information forwards only, so this is always True."""
        return True


@dataclass(frozen=True)
class Hybrid:
    """A strided convolutional front-end, then `then`: the streaming scenario's model.

    Derived in "Cutting the n^2" (``downsampling.downsampled``), made a model of its own:
    a Conv1d(d, d, kernel = stride = s) merges every s positions into one token (n is
    zero-padded on the right to s ceil(n / s)), `then` runs on the ceil(n / s) tokens, and
    each token's output is repeated s times and cropped to n, so output j reads token
    floor(j / s). ``models.build`` maps (B, n, d) to (B, n, d) like every spec.

    stride: s >= 1, the positions one token holds (s = 1 is a pointwise projection).
    then: the spec run on the tokens, a registered spec that is not itself a Hybrid (an
    RNN, LSTM, CNN or Transformer); d_model and layers are its own.
    d_model, layers: taken from `then`; given as well, they must agree with it (so
    ``dataclasses.replace(spec, then=...)`` to another size passes them as None). Without
    `then`, they size the default body, an LSTM(d_model, layers) (layers 1 if not given),
    so ``Hybrid(d_model=..., layers=...)`` builds like every other spec (the exercise
    checkers and the command line build specs from a width and a depth). The defaults,
    s = 4 and an LSTM, are the streaming front-end: speech models subsample their frames
    4 times with strided convolutions before the sequence model (Gulati et al. 2020,
    Conformer) and a recurrence streams the tokens.

    Causality holds at token granularity only: token t reads positions t s ... t s + s - 1,
    so output j sees as many as s - 1 - (j mod s) positions ahead even when `then` is causal
    (``paths.look_ahead``). ``causal`` is therefore True only for s = 1 and a causal
    `then`; a Hybrid never decodes one position at a time (``formulas.decode`` refuses it).
    """

    stride: int = 4
    then: object = None
    d_model: int | None = field(default=None, repr=False)
    layers: int | None = field(default=None, repr=False)

    def __post_init__(self):
        require_positive(stride=self.stride)
        then = self.then
        if then is None:
            require_positive(d_model=self.d_model)
            layers = 1 if self.layers is None else self.layers
            require_positive(layers=layers)
            then = LSTM(self.d_model, layers)
        from .registry import single_architectures  # the registry lists this class: import late

        bodies = [entry.spec for entry in single_architectures().values()]
        if type(then) not in bodies:
            names = ", ".join(spec.__name__ for spec in bodies)
            raise ValueError(f"then must be a spec of {names} (not a Hybrid), got {then!r}")
        for name in ("d_model", "layers"):
            given = getattr(self, name)
            if given is not None and given != getattr(then, name):
                raise ValueError(
                    f"{name} must be then's {name} ({getattr(then, name)}) or None, got {given!r}"
                )
        object.__setattr__(self, "then", then)
        object.__setattr__(self, "d_model", then.d_model)
        object.__setattr__(self, "layers", then.layers)

    @property
    def causal(self) -> bool:
        """True only for stride 1 and a causal `then`: a longer token reads s - 1 positions
        after its first (the class docstring)."""
        return self.stride == 1 and self.then.causal


def dilations(layers: int, base: int = 2) -> tuple:
    """The geometric dilation schedule δ_l = base^(l-1), l = 1 .. D: 1, base, base^2, ...

    Derived in "Receptive fields", bottom layer first, D = `layers`: with base = k (the
    kernel width) it tiles the offsets without holes; base = 1 is no dilation at all.
    """
    require_positive(layers=layers, base=base)
    return tuple(base**layer for layer in range(layers))


def body(spec):
    """The spec that runs the sequence: a Hybrid's `then`, any other spec itself."""
    return spec.then if isinstance(spec, Hybrid) else spec
