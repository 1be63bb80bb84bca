"""The formulas of the book's two axes: pure integer arithmetic on a spec and a workload.

``paths`` is axis 1 (path length L, sequential steps S, receptive field R), with ``scan``
for the depth of a parallel scan; ``costs`` is axis 2 (FLOPs, parameters, bytes), with
``linear`` for the two models of "Beyond the four"; ``decode`` is inference with a cache
(the state a decoder keeps, the FLOPs of one token, the steps of generating n);
``traffic`` the bytes moved, ``budget`` the whole training step, ``kernels`` what an
attention kernel executes. None runs a module:
``pathcost.measure`` holds their measured twins, and the tests set each formula beside
its twin.
"""
