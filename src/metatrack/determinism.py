"""Bit-identical runs: one switch for every source of run-to-run variation the project knows of.

Without it, two runs with the same seed already agree on one machine as long as nothing else
changes; ``--deterministic`` also pins what may change between runs or machines: the number of
threads torch and OpenCV split their sums over (a sum split another way rounds differently), the
global random generators (seeded, so that a tracker that draws from them repeats), and torch's
choice of algorithms (deterministic ones only; on CUDA an operation without one warns instead of
stopping the run). Bit-identity holds on CPU for the same seed, data, model and library versions
on one kind of processor; BLAS kernels chosen for another instruction set may round differently.
"""

from __future__ import annotations

import os
import random

import numpy as np


def set_deterministic(seed: int = 0) -> None:
    """Make this process's tracking and training bit-reproducible, and seed every global RNG with ``seed``.

    Process-wide and cheap to call again (the runner calls it before every sequence, so that a
    sequence's result depends neither on the sequences run before it nor on ``--jobs``).
    """
    # cuBLAS needs this before its first use to pick deterministic kernels (harmless on CPU)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import cv2
    import torch

    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    cv2.setNumThreads(1)
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
    cv2.setRNGSeed(seed % 2**31)
