"""The formulas of the book's two axes: pure integer arithmetic on a spec and a workload.

``paths`` is axis 1 (path length L, sequential steps S, receptive field R); ``costs`` is
axis 2 (FLOPs, parameters, bytes). Neither runs a module: ``pathcost.measure`` holds their
measured twins, and the tests set each formula beside its twin.
"""
