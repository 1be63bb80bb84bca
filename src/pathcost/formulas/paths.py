"""Axis 1, dependency path length: how far information must travel. Pure integer arithmetic.

Conventions (stated once, used by every function, derived in "Routing graphs"):

- Positions are counted in tokens; the distance from input i to output j is ``Δ = |i - j|``.
  A causal model (RNN, LSTM, causal CNN, causal Transformer) only carries information
  forwards, so Δ means "input i, output j = i + Δ"; a centred CNN or a non-causal
  Transformer reaches both ways alike. Positions are taken far from both ends of the
  sequence: near an end, a centred stack whose shortest route overshoots and comes back
  (shrinking dilations such as (4, 1)) loses that route to the zero padding, which
  ``shortest_path`` on n positions and the Jacobians of "Receptive fields" both show.
- Path length L counts the hops that move information between positions: one per layer of
  a stack (CNN, Transformer), one per state transfer h_(t-1) -> h_t of a recurrence (RNN,
  LSTM). The input projection of a recurrence moves nothing, so an RNN has L = Δ. A stack
  needs at least one layer even at Δ = 0. L is the smallest such count on any path;
  ``math.inf`` when the spec cannot carry position i to position j at all.
- Sequential steps S count the longest chain of operations that must run one after the
  other in a forward pass (the critical path), in the same units: layers of a stack, cell
  applications of a recurrence. D is the number of layers (``layers`` in a spec).
- The receptive field R is the span of input positions one output reads. For a CNN of
  kernel width k and dilations δ_l it is R = 1 + (k - 1) Σ δ_l, the same number whether the
  kernel is causal (all of R on the left) or centred (half on each side). That is why
  "k = 3 needs 256 layers" and "needs 511 layers" to reach 511 positions back are both
  true: causal and centred stacks.
- A Hybrid (``specs.Hybrid``, stride s) moves input i into token floor(i / s) in one hop
  (its strided convolution), then its body `then` routes between tokens, and output j
  reads token floor(j / s) with no hop (a copy). So its L depends on where i and j fall in
  their groups of s, not on Δ alone (``path_length_between``); ``path_length(spec, distance)``
  takes i at the start of its group, j = i + Δ. S, R and look-ahead count positions of the
  input, not tokens.
- Beyond the four: LinearAttention routes as causal full attention (every layer reads all
  earlier positions through its prefix sums); LinearRecurrence as an RNN, its S counted in
  state transfers, by the loop or by the Brent-Kung scan (``formulas.scan``).
"""

import math

from ..checks import require_bool, require_non_negative, require_positive
from ..registry import require_spec
from ..specs import (
    CNN,
    LSTM,
    RNN,
    Hybrid,
    LinearRecurrence,
    Transformer,
    dilations,
)
from .costs import downsampled_length
from .scan import scan_depth

_RECURRENCES = (RNN, LSTM, LinearRecurrence)  # one state transfer per position: L = Δ


def _conv_taps(kernel: int, dilation: int, causal: bool) -> range:
    """Offsets Δ (output t reads input t - Δ) of one convolution layer."""
    if causal:
        return range(0, (kernel - 1) * dilation + 1, dilation)
    half = (kernel - 1) // 2 * dilation
    return range(-half, half + 1, dilation)


def _cnn_prefix_depth(spec: CNN, distance: int) -> int | float:
    """Fewest bottom layers of `spec` after which input t - distance reaches output t.

    Tracks the exact set of reachable offsets as the bits of one Python int, so a
    dilation schedule with holes (gridding) is handled exactly, not by the span alone.
    """
    shift = 0 if spec.causal else (spec.kernel - 1) // 2 * sum(spec.dilation_schedule)
    reachable = 1 << shift  # offset 0 before any layer
    for depth, dilation in enumerate(spec.dilation_schedule, start=1):
        taps = _conv_taps(spec.kernel, dilation, spec.causal)
        reachable = _shift_union(reachable, taps)
        if reachable >> (distance + shift) & 1:
            return depth
    return math.inf


def _shift_union(mask: int, taps) -> int:
    """Bitset of every offset of `mask` plus every tap of `taps` (taps may be negative)."""
    out = 0
    for o in taps:
        out |= mask << o if o >= 0 else mask >> -o
    return out


def path_length(spec, distance: int) -> int | float:
    """Path length L(Δ): position-moving hops from input i to output j, ``Δ = |i - j|``.

    Derived in "Routing graphs" and "Beyond the four". RNN, LSTM, LinearRecurrence (loop or
    scan: the same function): L = Δ. Transformer: L = 1 with full attention, ceil(Δ / w)
    with window radius w; LinearAttention: L = 1. CNN: the fewest bottom layers whose
    offsets reach Δ, ceil(Δ / (k - 1)) for a causal stack without dilation. Hybrid: from
    i = 0 to j = Δ, 1 + L_then(floor(Δ / s)) (1 at floor(Δ / s) = 0; see
    ``path_length_between``). ``math.inf`` if unreachable. `distance` is Δ.
    """
    require_spec(spec)
    require_non_negative(distance=distance)
    if isinstance(spec, Hybrid):
        return path_length_between(spec, 0, distance)
    if isinstance(spec, _RECURRENCES):
        return distance
    if isinstance(spec, CNN):
        return _cnn_prefix_depth(spec, distance)
    window = getattr(spec, "window", None)  # LinearAttention has none: full, causal attention
    if window is None:
        return 1
    needed = max(1, math.ceil(distance / window))
    return needed if needed <= spec.layers else math.inf


def path_length_between(spec, i: int, j: int) -> int | float:
    """Path length from input position i to output position j, positions exact.

    Derived in "Routing graphs" (the module docstring's conventions). Every spec but a Hybrid:
    ``path_length(spec, |j - i|)``, or ``math.inf`` for j < i when it is causal. Hybrid of
    stride s, tokens i_s = floor(i / s), j_s = floor(j / s): one hop into token i_s, then the
    body's path between tokens: L = 1 if i_s = j_s; else 1 + L_then(abs(j_s - i_s)), or
    ``math.inf`` for j_s < i_s when `then` is causal. So i = 0, j = 7 at s = 4 costs
    1 + L_then(1), and i = 3, j = 4 the same although they are neighbours.
    """
    require_spec(spec)
    require_non_negative(i=i, j=j)
    if not isinstance(spec, Hybrid):
        return math.inf if spec.causal and j < i else path_length(spec, abs(j - i))
    a, b = i // spec.stride, j // spec.stride
    if a == b:
        return 1
    if spec.then.causal and b < a:
        return math.inf
    return 1 + path_length(spec.then, abs(b - a))


def sequential_steps(spec, n: int) -> int:
    """Sequential steps S(n): the longest chain of dependent operations in one forward pass.

    Derived in "Routing graphs". With D = ``layers``: RNN, LSTM: S = n + D - 1 (cell (l, t)
    waits for (l, t-1) and (l-1, t), a wavefront; PyTorch runs layer after layer, n D
    launches). CNN, Transformer: S = D, whatever n is. Hybrid: S = 1 + S_then(ceil(n / s)), its
    strided convolution first, then its body on the tokens. "Beyond the four":
    LinearAttention S = D (a prefix sum is additions); LinearRecurrence, in state transfers,
    n + D - 1 by the loop, ``scan.scan_depth(n, D)`` by the scan (2 ceil(log2 n) - 2 at D = 1).
    """
    require_spec(spec)
    require_positive(n=n)
    if isinstance(spec, Hybrid):
        return 1 + sequential_steps(spec.then, downsampled_length(n, spec.stride))
    if isinstance(spec, LinearRecurrence) and spec.scan:
        return scan_depth(n, spec.layers)
    if isinstance(spec, _RECURRENCES):
        return n + spec.layers - 1
    return spec.layers


def receptive_field(spec) -> int | float:
    """Receptive field R: the span of input positions one output position reads.

    Derived in "Receptive fields". CNN: R = 1 + (k - 1) Σ δ_l, causal or centred. Windowed
    Transformer of D layers and window radius w: R = 1 + w D (causal), 1 + 2 w D (both sides).
    RNN, LSTM, full attention, LinearAttention, LinearRecurrence: unbounded, ``math.inf``.
    Hybrid: R = s R_then, whole groups of s positions (``math.inf`` when R_then is).
    """
    require_spec(spec)
    if isinstance(spec, Hybrid):
        return spec.stride * receptive_field(spec.then)
    if isinstance(spec, CNN):
        return 1 + (spec.kernel - 1) * sum(spec.dilation_schedule)
    if isinstance(spec, Transformer) and spec.window is not None:
        sides = 1 if spec.causal else 2
        return 1 + sides * spec.window * spec.layers
    return math.inf


def look_ahead(spec) -> int | float:
    """The most positions after j that output j reads: 0 for a causal spec.

    Derived in "Cutting the n^2"; 0 for LinearAttention and LinearRecurrence ("Beyond the
    four"). Centred CNN: (k - 1) / 2 Σ δ_l; non-causal Transformer of D layers: w D with a
    window of radius w, ``math.inf`` with full attention. Hybrid of stride s:
    s (ahead_then + 1) - 1, with ahead_then the look-ahead of its body `then`, reached at
    the first position of a group (output j reads s - 1 - (j mod s) positions ahead of it
    inside its own token, and s ahead_then more through the body): s - 1 for a causal
    `then`, so causal at token granularity only.
    """
    require_spec(spec)
    if isinstance(spec, Hybrid):
        return spec.stride * (look_ahead(spec.then) + 1) - 1
    if spec.causal:
        return 0
    if isinstance(spec, CNN):
        return (spec.kernel - 1) // 2 * sum(spec.dilation_schedule)
    return math.inf if spec.window is None else spec.window * spec.layers


def layers_to_cover(distance: int, kernel: int, causal: bool = True, dilation_base: int = 1) -> int:
    """Fewest convolution layers whose reach spans `distance` positions.

    Derived in "Receptive fields". With base = `dilation_base`, layer l (1 to D) has dilation
    δ_l = base^(l-1); its one-sided reach is (k - 1) δ_l causal, (k - 1) / 2 δ_l centred.
    Without dilation (base = 1), to reach Δ = `distance`: D = ceil(Δ / (k - 1)) causal,
    ceil(2Δ / (k - 1)) centred. For k = 3 and Δ = 511: 256 and 511 layers. Counts the span;
    a schedule with holes may skip single offsets inside it (see path_length).
    """
    require_non_negative(distance=distance)
    require_positive(kernel=kernel, dilation_base=dilation_base)
    require_bool(causal=causal)
    if not causal and kernel % 2 == 0:
        raise ValueError(f"kernel must be odd for a centred (causal=False) stack, got {kernel}")
    if distance == 0:
        return 0
    if kernel == 1:
        raise ValueError(f"kernel must be >= 2 to reach distance {distance}; kernel=1 never moves")
    halves = 2 * (kernel - 1) if causal else kernel - 1  # reach per layer, in half positions
    if dilation_base == 1:
        return -(-2 * distance // halves)
    layers, reach = 0, 0
    while reach < 2 * distance:
        reach += halves * dilation_base**layers
        layers += 1
    return layers


def covering_cnn(
    distance: int, d_model: int, kernel: int = 2, dilation_base: int = 2, causal: bool = True
) -> CNN:
    """The shallowest CNN to span `distance`: ``layers_to_cover`` layers, δ_l = base^(l-1).

    Used in "Receptive fields" and "Long-range tasks": a stack sized to one dependency span,
    with base = `dilation_base` and dilations 1, base, base^2, ... (all 1 when base = 1).
    """
    require_positive(d_model=d_model)
    layers = max(1, layers_to_cover(distance, kernel, causal, dilation_base))
    schedule = dilations(layers, dilation_base)
    return CNN(d_model, kernel, layers, dilations=schedule, causal=causal)


def routing_graph(spec, n: int) -> list[tuple[tuple[int, int], tuple[int, int], int]]:
    """Edges (source, target, hops) of the unrolled computation graph on n positions.

    Derived in "Routing graphs". Nodes are (layer, position), layer 0 being the input; a
    LinearRecurrence's are an RNN's, a LinearAttention's a causal full-attention stack's.
    An edge's hops is what it adds to the path length L: 1 for every layer edge of a stack
    and for the state edge (l, t-1) -> (l, t) of a recurrence, 0 for a recurrence's input
    edge (l-1, t) -> (l, t), which moves nothing. A Hybrid of stride s keeps input
    positions on every layer: node (l, j) is the token floor(j / s) that output j would
    read were the model cut after layer l (1 = the strided convolution, 2 ... = the
    body's layers), so each token stands s times; the convolution's edges join i to every
    j of its group (1 hop), and each edge of ``routing_graph(then, ceil(n / s))`` between
    two tokens joins every position of the first token's group to every position of the
    second's.
    """
    require_spec(spec)
    require_positive(n=n)
    if isinstance(spec, Hybrid):
        return _hybrid_graph(spec, n)
    edges = []
    if isinstance(spec, _RECURRENCES):
        for layer in range(1, spec.layers + 1):
            for t in range(n):
                edges.append(((layer - 1, t), (layer, t), 0))
                if t:
                    edges.append(((layer, t - 1), (layer, t), 1))
        return edges
    for layer in range(1, spec.layers + 1):
        for t in range(n):
            for s in _sources(spec, layer, t, n):
                edges.append(((layer - 1, s), (layer, t), 1))
    return edges


def _hybrid_graph(spec: Hybrid, n: int) -> list[tuple[tuple[int, int], tuple[int, int], int]]:
    """``routing_graph`` of a Hybrid: the convolution's layer, then the body's, on n positions."""
    s = spec.stride

    def group(token: int) -> range:
        return range(token * s, min((token + 1) * s, n))

    edges = [((0, i), (1, j), 1) for j in range(n) for i in group(j // s)]
    for (layer, u), (above, t), hops in routing_graph(spec.then, downsampled_length(n, s)):
        edges += [((layer + 1, p), (above + 1, j), hops) for p in group(u) for j in group(t)]
    return edges


def _sources(spec, layer: int, t: int, n: int) -> list[int]:
    """Input positions that output t of stack layer `layer` (from 1) reads, inside 0..n-1."""
    if isinstance(spec, CNN):
        taps = _conv_taps(spec.kernel, spec.dilation_schedule[layer - 1], spec.causal)
        return [t - o for o in taps if 0 <= t - o < n]
    window = getattr(spec, "window", None)  # LinearAttention's prefix sums: full, causal
    reach = n if window is None else window
    first, last = t - reach, (t if spec.causal else t + reach)
    return list(range(max(first, 0), min(last, n - 1) + 1))


def shortest_path(spec, n: int, i: int, j: int) -> tuple[int | float, list[tuple[int, int]]]:
    """Path length from input i to position j found by search in ``routing_graph``, and the path.

    An independent route to ``path_length``: a 0-1 breadth-first search over the explicit
    graph instead of a closed form. The path ends at the lowest layer where j is reached.
    Returns (math.inf, []) when no path exists.
    """
    require_positive(n=n)
    require_non_negative(i=i, j=j)
    if i >= n or j >= n:
        raise ValueError(f"i and j must be positions 0..{n - 1}, got i={i}, j={j}")
    outgoing = {}
    for source, target, hops in routing_graph(spec, n):
        outgoing.setdefault(source, []).append((target, hops))
    start = (0, i)
    cost, parent, frontier = {start: 0}, {start: None}, [start]
    while frontier:  # Dijkstra with 0/1 weights: expand cheapest first
        frontier.sort(key=cost.__getitem__)
        node = frontier.pop(0)
        for target, hops in outgoing.get(node, []):
            if cost[node] + hops < cost.get(target, math.inf):
                cost[target], parent[target] = cost[node] + hops, node
                frontier.append(target)
    ends = [node for node in cost if node[1] == j and node[0] >= 1]
    if not ends:
        return math.inf, []
    end = min(ends, key=lambda node: (cost[node], node[0]))
    path = [end]
    while parent[path[-1]] is not None:
        path.append(parent[path[-1]])
    return cost[end], path[::-1]
