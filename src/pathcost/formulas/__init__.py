"""The formulas of the book's two axes: pure integer arithmetic on a spec and a workload.

``paths`` is axis 1 (path length L, sequential steps S, receptive field R); ``costs`` is
axis 2 (FLOPs, parameters, bytes); ``decode`` is inference with a cache (the state a
decoder keeps, the FLOPs of one token, the steps of generating n). None runs a module:
``pathcost.measure`` holds their measured twins, and the tests set each formula beside
its twin.
"""
