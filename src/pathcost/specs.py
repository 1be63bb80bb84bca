"""The book's four architectures as frozen specs: what is built, never how it is run.

A spec names the sizes only. The workload (sequence length n, batch, dtype, device) is
passed to each formula or measurement separately, so one spec serves every n.
Every spec validates on construction and raises ValueError naming the bad parameter.
"""

from dataclasses import dataclass

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
    """Elman recurrence h_t = tanh(W_x x_t + W_h h_(t-1) + b), `layers` stacked, width d_model."""


@dataclass(frozen=True)
class LSTM(Recurrence):
    """LSTM (Hochreiter & Schmidhuber 1997): four gates a step, `layers` stacked, width d_model."""


@dataclass(frozen=True)
class CNN:
    """A stack of `layers` 1-D convolutions of width `kernel`, d_model channels in and out.

    dilations: one per layer; None means every dilation is 1.
    causal=True pads on the left only, so output t reads inputs t - (k-1)*dilation ... t;
    causal=False ("centred") pads both sides, so output t reads t -/+ (k-1)/2*dilation,
    which needs an odd kernel.
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


@dataclass(frozen=True)
class Transformer:
    """Pre-norm Transformer blocks (Vaswani et al. 2017): attention, then a GELU FFN, each residual.

    window: local attention radius w (query t sees keys within w positions); None = full.
    causal=True masks the future, as a decoder does; causal=False lets every position see
    both sides, as an encoder does.
    positional=True adds sinusoidal position encodings (Vaswani et al. 2017) to the input;
    without them attention cannot tell positions apart. They cost no FLOPs and no parameters.
    kv_heads: heads of K and V, each shared by heads / kv_heads query heads (grouped-query
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
        require_positive(d_model=self.d_model, heads=self.heads, d_ff=self.d_ff, layers=self.layers)
        if self.d_model % self.heads:
            raise ValueError(
                "d_model must be divisible by heads, "
                f"got d_model={self.d_model}, heads={self.heads}"
            )
        if self.window is not None:
            require_positive(window=self.window)
        if self.kv_heads is not None:
            require_positive(kv_heads=self.kv_heads)
            if self.heads % self.kv_heads:
                raise ValueError(
                    f"kv_heads must divide heads, got kv_heads={self.kv_heads}, heads={self.heads}"
                )
        require_bool(causal=self.causal, positional=self.positional)
        if self.positional and self.d_model % 2:
            raise ValueError(f"d_model must be even for sinusoidal positions, got {self.d_model}")

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
        """How many query heads share one K and V head, g = heads / kv_heads (1 for multi-head)."""
        return self.heads // self.key_value_heads


def dilations(layers: int, base: int = 2) -> tuple:
    """The geometric dilation schedule 1, b, b^2, ..., b^(layers - 1), bottom layer first.

    Derived in "Receptive fields": with b = k it tiles the offsets without holes; b = 1 is
    no dilation at all.
    """
    require_positive(layers=layers, base=base)
    return tuple(base**layer for layer in range(layers))
