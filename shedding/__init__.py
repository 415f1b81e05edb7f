"""cascade-shedding: instrumented pruning experiments and the analysis of weight shedding.

Kept deliberately light: importing :mod:`shedding.analysis` must not import torch, so
results can be studied with numpy, scipy and h5py alone.
"""

__version__ = "0.1.0"
