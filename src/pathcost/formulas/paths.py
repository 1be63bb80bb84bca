"""Axis 1, dependency path length: how far information must travel. Pure integer arithmetic.

Conventions (stated once, used by every function, derived in "Routing graphs"):

- Positions are counted in tokens; the distance from input i to output j is ``d = |i - j|``.
  A causal model (RNN, LSTM, causal CNN, causal Transformer) only carries information
  forwards, so d means "input i, output j = i + d"; a centred CNN or a non-causal
  Transformer reaches both ways alike. Positions are taken far from both ends of the
  sequence: near an end, a centred stack whose shortest route overshoots and comes back
  (shrinking dilations such as (4, 1)) loses that route to the zero padding, which
  ``shortest_path`` on n positions and the Jacobians of "Receptive fields" both show.
- Path length L counts the hops that move information between positions: one per layer of
  a stack (CNN, Transformer), one per state transfer h_(t-1) -> h_t of a recurrence (RNN,
  LSTM). The input projection of a recurrence moves nothing, so an RNN has L = d. A stack
  needs at least one layer even at d = 0. L is the smallest such count on any path;
  ``math.inf`` when the spec cannot carry position i to position j at all.
- Sequential steps S count the longest chain of operations that must run one after the
  other in a forward pass (the critical path), in the same units: layers of a stack, cell
  applications of a recurrence.
- A CNN's receptive field R is the span of input positions one output reads:
  R = 1 + (k - 1) * sum of dilations, the same number whether the kernel is causal
  (all of R on the left) or centred (half on each side). That is why "k = 3 needs 256
  layers" and "needs 511 layers" to reach 511 positions back are both true: causal and
  centred stacks.
- A Hybrid (``specs.Hybrid``, stride s) moves input i into token floor(i / s) in one hop
  (its strided convolution), then its body `then` routes between tokens, and output j
  reads token floor(j / s) with no hop (a copy). So its L depends on where i and j fall in
  their groups of s, not on d alone (``path_length_between``); ``path_length(spec, d)``
  takes i at the start of its group, j = i + d. S, R and look-ahead count positions of the
  input, not tokens.
"""

import math

from ..checks import require_bool, require_non_negative, require_positive
from ..registry import require_spec
from ..specs import CNN, LSTM, RNN, Hybrid, Transformer, dilations
from .costs import downsampled_length


def _conv_taps(kernel: int, dilation: int, causal: bool) -> range:
    """Offsets o (output t reads input t - o) of one convolution layer."""
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
    """Bitset of {a + o : a in mask, o in taps} (offsets may be negative)."""
    out = 0
    for o in taps:
        out |= mask << o if o >= 0 else mask >> -o
    return out


def path_length(spec, distance: int) -> int | float:
    """Path length L(d): position-moving hops from input i to output j, ``d = |i - j|``.

    Derived in "Routing graphs". RNN, LSTM: L = d. Transformer: L = 1 with full attention,
    ceil(d / w) with window radius w. CNN: the fewest bottom layers whose offsets reach d,
    ceil(d / (k - 1)) for a causal stack without dilation. Hybrid: from i = 0 to j = d,
    1 + L_then(floor(d / s)) (1 at floor(d / s) = 0; see ``path_length_between``).
    ``math.inf`` if unreachable.
    """
    require_spec(spec)
    require_non_negative(distance=distance)
    if isinstance(spec, Hybrid):
        return path_length_between(spec, 0, distance)
    if isinstance(spec, (RNN, LSTM)):
        return distance
    if isinstance(spec, CNN):
        return _cnn_prefix_depth(spec, distance)
    if spec.window is None:
        return 1
    needed = max(1, math.ceil(distance / spec.window))
    return needed if needed <= spec.layers else math.inf


def path_length_between(spec, i: int, j: int) -> int | float:
    """Path length from input position i to output position j, positions exact.

    Derived in "Routing graphs" (the module docstring's conventions). Every spec but a
    Hybrid: ``path_length(spec, |j - i|)``, or ``math.inf`` for j < i when it is causal.
    Hybrid of stride s, tokens a = floor(i / s), b = floor(j / s): one hop into token a,
    then the body's path between tokens: L = 1 if a = b; else 1 + L_then(abs(b - a)), or
    ``math.inf`` for b < a when `then` is causal. So i = 0, j = 7 at s = 4 costs
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

    Derived in "Routing graphs". RNN, LSTM: S = n + layers - 1 (cell (l, t) waits for
    (l, t-1) and (l-1, t), a wavefront; PyTorch runs layer after layer, n * layers launches).
    CNN, Transformer: S = layers, whatever n is. Hybrid: S = 1 + S_then(ceil(n / s)), its
    strided convolution first, then its body on the tokens.
    """
    require_spec(spec)
    require_positive(n=n)
    if isinstance(spec, Hybrid):
        return 1 + sequential_steps(spec.then, downsampled_length(n, spec.stride))
    if isinstance(spec, (RNN, LSTM)):
        return n + spec.layers - 1
    return spec.layers


def receptive_field(spec) -> int | float:
    """Receptive field R: the span of input positions one output position reads.

    Derived in "Receptive fields". CNN: R = 1 + (k - 1) * sum(dilations), causal or centred.
    Windowed Transformer: R = 1 + w * layers (causal), 1 + 2 * w * layers (both sides).
    RNN, LSTM and full attention: unbounded, ``math.inf``. Hybrid: R = s R_then, whole
    groups of s positions (``math.inf`` when R_then is).
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

    Derived in "Cutting the n^2". Centred CNN: (k - 1) / 2 * sum(dilations); non-causal
    Transformer: w * layers with a window w, ``math.inf`` with full attention. Hybrid of
    stride s: s (A_then + 1) - 1, reached at the first position of a group (output j
    reads s - 1 - (j mod s) positions ahead of it inside its own token, and s A_then
    more through the body): s - 1 for a causal `then`, so causal at token granularity only.
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

    Derived in "Receptive fields". Layer l (from 0) has dilation b^l; its one-sided reach is
    (k - 1) * b^l causal, (k - 1) / 2 * b^l centred. Without dilation (b = 1):
    L = ceil(d / (k - 1)) causal, ceil(2d / (k - 1)) centred. For k = 3, d = 511: 256 and 511.
    Counts the span; a schedule with holes may skip single offsets inside it (see path_length).
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
    """The shallowest CNN whose reach spans `distance`: ``layers_to_cover`` layers, dilations b^l.

    Used in "Receptive fields" and "Long-range tasks": a stack sized to one dependency span,
    with dilations 1, b, b^2, ... (all 1 when b = 1).
    """
    require_positive(d_model=d_model)
    layers = max(1, layers_to_cover(distance, kernel, causal, dilation_base))
    schedule = dilations(layers, dilation_base)
    return CNN(d_model, kernel, layers, dilations=schedule, causal=causal)


def routing_graph(spec, n: int) -> list[tuple[tuple[int, int], tuple[int, int], int]]:
    """Edges (source, target, hops) of the unrolled computation graph on n positions.

    Derived in "Routing graphs". Nodes are (layer, position), layer 0 being the input.
    An edge's hops is what it adds to the path length L: 1 for every layer edge of a stack
    and for the state edge (l, t-1) -> (l, t) of a recurrence, 0 for a recurrence's input
    edge (l-1, t) -> (l, t), which moves nothing. A Hybrid of stride s keeps input
    positions on every layer: node (l, j) is the token floor(j / s) that output j would
    read were the model cut after layer l (1 = the strided convolution, 2 ... = the
    body's layers), so each token stands s times; the convolution's edges join i to every
    j of its group (1 hop), and each edge of ``routing_graph(then, ceil(n / s))`` between
    tokens u and t joins every position of u's group to every position of t's.
    """
    require_spec(spec)
    require_positive(n=n)
    if isinstance(spec, Hybrid):
        return _hybrid_graph(spec, n)
    edges = []
    if isinstance(spec, (RNN, LSTM)):
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
    reach = n if spec.window is None else spec.window
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
