"""Sequential steps measured on a real forward pass: the twin of ``paths.sequential_steps``.

It knows none of the formulas and no routing graph. One forward pass of the module runs under
a dispatch mode that gives every tensor it produces a shadow tensor of the same shape, its
depth: the number of matrix products and convolutions on the longest chain of data
dependencies that ends at that element. Inputs, parameters and constants have depth 0; the
longest chain of the pass is the largest depth of any element. The rules follow the data:

- a view, copy or move of data (view, permute, slice, cat, pad, ...): the same op on the depths;
- a pointwise op: the elementwise maximum of its inputs' depths, broadcast;
- a reduction (sum, softmax, layer norm, ...): the maximum over the reduced dimensions;
- a matrix product Y = X W: Y[i, j] reads row i of X and column j of W, one more product;
- a 1-D convolution: every input channel at the kernel's taps, one more product;
- a prefix sum (cumsum): element t reads elements 0 ... t along its dimension, no product;
- a state transfer ``addcmul`` (u + a ⊙ h, the diagonal recurrence of ``linear``): the
  product of the diagonal matrix diag(a) with h, elementwise, one more product.

Counting "transfers" instead of "products", only the state transfers add one: a matrix
product or convolution passes its inputs' depths on unchanged. That is the unit of S for
a recurrence whose transfer is not a matrix product.

An op it has no rule for raises ValueError naming the op, never a silent guess.
"""

from dataclasses import replace

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves, tree_map_only
from torch.utils.weak import WeakTensorKeyDictionary

from ..checks import require_choice, require_module_input, require_positive
from ..models import seeded, seeded_input
from ..registry import require_spec
from ..specs import Hybrid, LinearRecurrence
from ..specs import body as sequence_body

aten = torch.ops.aten


def _bound(func, args, kwargs) -> dict:
    """The arguments of one aten call by their schema names, defaults filled in."""
    schema = func._schema.arguments
    values = {a.name: a.default_value for a in schema if a.has_default_value()}
    values.update(zip((a.name for a in schema), args))
    values.update(kwargs)
    return values


def _tensors(tree) -> list:
    """The tensors among the leaves of a nest of arguments or outputs, in order."""
    return [leaf for leaf in tree_leaves(tree) if isinstance(leaf, torch.Tensor)]


def _move(func, args, kwargs, out):
    """A view, copy or move of data: each output element is one input element, or a pad."""
    if func in (aten.view.default, aten._unsafe_view.default, aten._reshape_alias.default):
        return args[0].reshape(out.shape)  # the depths need not have the input's strides
    if func is aten._to_copy.default:
        return args[0].clone()  # the depths stay integers on the CPU
    if func is aten.constant_pad_nd.default:
        return func(args[0], args[1], 0)  # a pad value is a constant: depth 0
    return func(*args, **kwargs)


def _elementwise(func, args, kwargs, out):
    """Pointwise: out[i] = max over the inputs of their depth at i, broadcast as the op does."""
    depth = torch.zeros((), dtype=torch.int64)
    for tensor in _tensors((args, kwargs)):
        depth = torch.maximum(depth, tensor)
    return tree_map_only(torch.Tensor, lambda output: depth.expand(output.shape), out)


def _along(func, args, kwargs, out):
    """Softmax-like: every output along `dim` reads the whole of its row."""
    return args[0].amax(args[1], keepdim=True).expand(out.shape)


def _reduction(func, args, kwargs, out):
    """sum, mean, amax, var, ...: the maximum over the reduced dimensions (None or []: all)."""
    bound = _bound(func, args, kwargs)
    dims = bound.get("dim")
    dims = (dims,) if isinstance(dims, int) else tuple(dims or range(args[0].dim()))
    depth = args[0].amax(dims, keepdim=bound.get("keepdim", False))
    return tree_map_only(torch.Tensor, lambda output: depth.expand(output.shape), out)


def _layer_norm(func, args, kwargs, out):
    """(out, mean, rstd): statistics over the normalised dims, then the affine weight and bias."""
    bound = _bound(func, args, kwargs)
    x, normalised = bound["input"], len(bound["normalized_shape"])
    stats = x.amax(tuple(range(-normalised, 0)), keepdim=True)
    depth = stats
    for affine in (bound["weight"], bound["bias"]):
        if affine is not None:
            depth = torch.maximum(depth, affine)
    return depth.expand(x.shape), stats, stats


def _chain(a, b):
    """Depths of the product `a` `b`: entry [..., i, j] reads row i of `a`, column j of `b`, + 1."""
    if b.dim() == 1:
        b = b.unsqueeze(-1)
    return torch.maximum(a.amax(-1, keepdim=True), b.amax(-2, keepdim=True)) + 1


_PRODUCTS = {  # op: (a, b, the added term or None), as positions among its arguments
    aten.mm.default: (0, 1, None),
    aten.bmm.default: (0, 1, None),
    aten.mv.default: (0, 1, None),
    aten.dot.default: (0, 1, None),
    aten.addmm.default: (1, 2, 0),
    aten.baddbmm.default: (1, 2, 0),
    aten.addmv.default: (1, 2, 0),
}


def _product(func, args, kwargs, out):
    """A matrix product (plus an added term such as a bias): ``_chain``, shaped as the output."""
    a, b, added = _PRODUCTS[func]
    depth = _chain(args[a], args[b]).reshape(out.shape)
    return depth if added is None else torch.maximum(depth, args[added])


def _convolution(func, args, kwargs, out):
    """1-D convolution: an output channel at position t reads every input channel of its
    group at the kernel's taps (with the stride, dilation and zero padding of ``F.conv1d``)
    and its own filter: + 1."""
    x, weight, bias, stride, padding, dilation, transposed, _, groups = args
    if transposed or x.dim() != 3:
        raise ValueError(f"longest_chain traces 1-D convolutions only, got {x.dim() - 2}-D")
    batch, channels, _ = x.shape
    reads = x.reshape(batch, groups, channels // groups, -1).amax(2)  # (B, groups, n)
    reads = F.pad(reads, (padding[0], padding[0]))
    span = (out.shape[-1] - 1) * stride[0] + 1
    taps = [tap * dilation[0] for tap in range(weight.shape[-1])]
    reads = torch.stack([reads[..., tap : tap + span : stride[0]] for tap in taps]).amax(0)
    depth = torch.maximum(
        reads.repeat_interleave(out.shape[1] // groups, dim=1), weight.amax((1, 2))[:, None]
    )
    return (depth if bias is None else torch.maximum(depth, bias[:, None])) + 1


def _attention(func, args, kwargs, out):
    """A fused attention kernel, both products: score (i, j) reads query i and key j (+ 1);
    an output channel of row i reads row i of the scores and that channel of the values
    (+ 1). A causal kernel reads no key after its query; with grouped-query attention each
    K/V head serves h / h_kv query heads."""
    bound = _bound(func, args, kwargs)
    query, key, value, mask = bound["query"], bound["key"], bound["value"], bound["attn_mask"]
    groups = query.shape[-3] // key.shape[-3]  # grouped-query attention: heads per K/V head
    key, value = (t.repeat_interleave(groups, dim=-3) for t in (key, value))
    scores = _chain(query, key.transpose(-2, -1))  # (..., L, S)
    if mask is not None:
        scores = torch.maximum(scores, mask)
    reads = torch.maximum(scores.unsqueeze(-1), value.unsqueeze(-3))  # (..., L, S, E)
    if bound["is_causal"]:
        seen = torch.ones(scores.shape[-2:], dtype=torch.bool).tril()
        scores, reads = scores * seen, reads * seen.unsqueeze(-1)
    return reads.amax(-2) + 1, scores.amax(-1)  # output, log-sum-exp


def _prefix(func, args, kwargs, out):
    """cumsum: element t along `dim` reads elements 0 ... t, so its depth is their maximum."""
    return args[0].cummax(_bound(func, args, kwargs)["dim"]).values


def _transfer(func, args, kwargs, out):
    """addcmul(u, a, h) = u + a ⊙ h: elementwise, broadcast, one more step."""
    return _elementwise(func, args, kwargs, out) + 1


def _rules() -> dict:
    """Every op the tracer knows (other than pointwise ones and constants), by its rule."""
    groups = {
        _move: [
            "view.default", "_unsafe_view.default", "_reshape_alias.default", "permute.default",
            "transpose.int", "t.default", "expand.default", "slice.Tensor", "select.int",
            "unsqueeze.default", "squeeze.default", "squeeze.dim", "squeeze.dims", "cat.default",
            "stack.default", "unbind.int", "split.Tensor", "split_with_sizes.default",
            "clone.default", "_to_copy.default", "alias.default", "detach.default",
            "lift_fresh.default", "unfold.default", "flip.default", "roll.default",
            "repeat.default", "diagonal.default", "constant_pad_nd.default", "triu.default",
            "tril.default",
        ],
        _along: ["_softmax.default", "_log_softmax.default", "_safe_softmax.default"],
        _reduction: [
            "sum.default", "sum.dim_IntList", "mean.default", "mean.dim", "amax.default",
            "amin.default", "max.dim", "min.dim", "var.correction", "std.correction",
            "var_mean.correction", "logsumexp.default", "linalg_vector_norm.default",
        ],
        _layer_norm: ["native_layer_norm.default"],
        _convolution: ["convolution.default"],
        _attention: ["_scaled_dot_product_flash_attention_for_cpu.default"],
        _prefix: ["cumsum.default"],
        _transfer: ["addcmul.default"],
    }  # fmt: skip
    rules = {op: _product for op in _PRODUCTS}
    for rule, names in groups.items():
        for name in names:
            packet, overload = name.split(".")
            rules[getattr(getattr(aten, packet), overload)] = rule
    return rules


_RULES = _rules()
_MAKES_PRODUCTS = (_product, _convolution, _attention)  # depth 1 even from constants
_STARTS_CHAINS = (*_MAKES_PRODUCTS, _transfer)  # traced even when no input is
COUNTS = ("products", "transfers")  # what adds one to a chain: see the module docstring
_CONSTANTS = {  # read only the shape, dtype and device of their tensor input
    aten.new_zeros.default, aten.new_ones.default, aten.new_full.default,
    aten.new_empty.default, aten.zeros_like.default, aten.ones_like.default,
    aten.full_like.default, aten.empty_like.default,
}  # fmt: skip


class _DepthMode(TorchDispatchMode):
    """Runs every aten op as usual and records the depth of each element of its outputs."""

    def __init__(self, counting: str = "products"):
        super().__init__()
        self.products = counting == "products"
        self.depths = WeakTensorKeyDictionary()  # tensor -> int64 depths of its shape, on CPU
        self.longest = 0

    def depth(self, tensor):
        if tensor in self.depths:
            return self.depths[tensor]
        return torch.zeros(tensor.shape, dtype=torch.int64)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        inputs = _tensors((args, kwargs))
        pointwise = torch.Tag.pointwise in func.tags
        rule = _RULES.get(func, _elementwise if pointwise else None)
        if rule is None and inputs and func not in _CONSTANTS:
            raise ValueError(f"longest_chain has no depth rule for {func}")
        in_place = torch.Tag.inplace in func.tags
        if func._schema.is_mutable and not (pointwise and in_place):
            raise ValueError(f"longest_chain cannot trace {func}: it writes into a tensor")
        out = func(*args, **kwargs)
        traced = any(tensor in self.depths for tensor in inputs)
        if rule is None or not (traced or rule in _STARTS_CHAINS):
            return out  # a constant, or data that depends on no product: depth 0 everywhere
        depth_args, depth_kwargs = tree_map_only(torch.Tensor, self.depth, (args, kwargs))
        depths = rule(func, depth_args, depth_kwargs, out)
        if rule in _MAKES_PRODUCTS and not self.products:  # counting transfers: take the 1 back
            depths = tree_map_only(torch.Tensor, lambda depth: depth - 1, depths)
        if func._schema.is_mutable:
            if not torch.equal(depths, self.depth(out)):  # views of `out` would go stale
                raise ValueError(f"longest_chain cannot trace {func}: it changes depths")
            return out
        for output, depth in zip(_tensors(out), _tensors(depths), strict=True):
            if depth.shape != output.shape:
                raise ValueError(
                    f"depth rule of {func} gave shape {tuple(depth.shape)}, "
                    f"output has {tuple(output.shape)}"
                )
            self.depths[output] = depth
            if depth.numel():
                self.longest = max(self.longest, int(depth.max()))
        return out


def longest_chain(module, x, products_per_step: int = 1, counting: str = "products") -> int:
    """Measured S: the longest chain of dependent matrix products and convolutions in module(x).

    Derived in "Routing graphs". Counted in steps of `products_per_step` products on the
    chain: 1 makes a step one Linear layer or convolution; ``sequential_steps`` passes
    what one layer or cell of an architecture puts on the chain. counting="transfers"
    counts the state transfers (``addcmul``) alone, the unit of S for ``linear``'s
    diagonal recurrence, computed by a loop or a scan ("Beyond the four").
    """
    require_module_input(module, x)
    require_positive(products_per_step=products_per_step)
    require_choice("counting", counting, COUNTS)
    mode = _DepthMode(counting)
    with torch.no_grad(), mode:
        module(x)
    if mode.longest % products_per_step:
        raise ValueError(
            f"products_per_step={products_per_step} does not divide the measured chain of "
            f"{mode.longest} products"
        )
    return mode.longest // products_per_step


def _one_application(spec):
    """`spec` cut to its bottom layer (with that layer's dilation): one layer or one cell."""
    if getattr(spec, "dilations", None) is not None:
        return replace(spec, layers=1, dilations=spec.dilations[:1])
    return replace(spec, layers=1)


class _Tokens(torch.nn.Module):
    """A Hybrid's front end alone: its strided convolution, (B, n, d) -> (B, ceil(n / s), d)."""

    def __init__(self, hybrid: torch.nn.Module):
        super().__init__()
        self.hybrid = hybrid

    def forward(self, x):
        return self.hybrid.tokens(x)


def sequential_steps(spec, n: int, attention: str = "explicit") -> int:
    """Measured S(n) of ``models.build(spec)`` on n positions, in layer or cell applications.

    Derived in "Routing graphs". The chain of products of the seeded float64 module on a
    (1, n, d_model) input, over the chain of one application measured the same way: the
    spec cut to one layer, on one position. Raises if one does not divide the other.
    A Hybrid's front end is one application: its chain (the module cut after its
    convolution) counts 1, and the rest of the module's chain is counted in applications
    of its body. A LinearRecurrence counts its state transfers (counting="transfers"):
    the loop's one per position, or the levels of combines its scan runs.
    """
    require_spec(spec)
    require_positive(n=n)
    if isinstance(spec, LinearRecurrence):
        return longest_chain(seeded(spec), seeded_input(n, spec.d_model), counting="transfers")
    body = sequence_body(spec)
    one = seeded(_one_application(body), attention)
    unit = longest_chain(one, seeded_input(1, spec.d_model))
    module, x = seeded(spec, attention), seeded_input(n, spec.d_model)
    if not isinstance(spec, Hybrid):
        return longest_chain(module, x, unit)
    front = longest_chain(_Tokens(module), x)
    rest = longest_chain(module, x) - front
    if rest % unit:
        raise ValueError(
            f"the body's application of {unit} products does not divide the {rest} products "
            "after the front end"
        )
    return 1 + rest // unit
