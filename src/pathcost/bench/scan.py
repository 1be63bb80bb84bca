"""Loop against scan: one diagonal linear recurrence timed both ways over n ("Beyond the four").

The two modules share their weights, so they compute the same function (to float
rounding) and differ only in how the n states are computed: one ``addcmul`` per position,
each waiting for the last, or the Brent-Kung scan's 2 ceil(log2 n) - 1 levels of wider
``addcmul`` calls (``linear.scan``).
"""

import torch
from tqdm.auto import tqdm

from ..checks import require_positive
from ..models import build
from ..runtime import device
from ..specs import LinearRecurrence
from .sweeps import step
from .timing import time


def loop_against_scan(
    ns, d_model: int = 64, batch: int = 8, dev=None, min_run_time: float = 0.05,
    progress: bool = False,
) -> list[dict]:
    """Forward time of LinearRecurrence(d_model, 1) by loop and by scan at every n in `ns`.

    Rows {"n", "loop_s", "scan_s", "ratio"}: median seconds of one forward without autograd
    on a fresh randn(batch, n, d_model), and loop_s / scan_s (above 1: the scan is faster).
    """
    ns = list(ns)
    if not ns:
        raise ValueError("ns must hold at least one length")
    require_positive(d_model=d_model, batch=batch, **{f"ns[{i}]": n for i, n in enumerate(ns)})
    dev = device() if dev is None else torch.device(dev)
    loop = build(LinearRecurrence(d_model, 1, scan=False)).to(dev)
    scan = build(LinearRecurrence(d_model, 1, scan=True)).to(dev)
    scan.load_state_dict(loop.state_dict())
    rows = []
    for n in tqdm(ns, desc="loop and scan", disable=not progress):
        seconds = [time(step(module, n, d_model, batch, dev=dev), dev, min_run_time).median
                   for module in (loop, scan)]  # fmt: skip
        rows.append({"n": n, "loop_s": seconds[0], "scan_s": seconds[1],
                     "ratio": seconds[0] / seconds[1]})  # fmt: skip
    return rows
