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
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

#: the variables the math libraries read their thread counts from when they load: OpenMP (torch's
#: libgomp), MKL, and the OpenBLAS that NumPy and OpenCV each carry
MATH_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@contextmanager
def math_threads_for_children(threads: int) -> Iterator[None]:
    """Start every process spawned inside the block with ``threads`` math threads, restoring the
    environment afterwards.

    OpenBLAS reads its thread count once, when NumPy or OpenCV loads it, and a spawned worker loads
    them before its start-up function runs (it imports the parent's main module first). A count
    lowered later does not give the sums of a count set at load: an OpenBLAS loaded with two threads
    and limited to one differs from one loaded with one by 1e-6 px a frame, and the tracks part
    after ~100 frames. Only the environment a worker is born with pins it.
    """
    before = {var: os.environ.get(var) for var in MATH_THREAD_VARIABLES}
    os.environ.update({var: str(threads) for var in MATH_THREAD_VARIABLES})
    try:
        yield
    finally:
        for var, value in before.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def limit_thread_pools(threads: int) -> None:
    """Cap torch's and OpenCV's own thread pools at ``threads``: a worker process's start-up (the math
    libraries it loaded were capped by the environment :func:`math_threads_for_children` gave it).

    Two workers with two threads each on two cores run many times slower than two with one.
    """
    import cv2
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    cv2.setNumThreads(threads)


def set_deterministic(seed: int = 0) -> None:
    """Make this process's tracking and training bit-reproducible, and seed every global RNG with ``seed``.

    Process-wide and cheap to call again (the runner calls it before every sequence, so that a
    sequence's result depends neither on the sequences run before it nor on ``--jobs``).
    """
    # cuBLAS needs this before its first use to pick deterministic kernels (harmless on CPU)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import cv2
    import torch
    from threadpoolctl import threadpool_limits

    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    limit_thread_pools(1)
    # the OpenBLAS of NumPy and OpenCV, loaded before this call: one thread from now on (bit-identical to
    # a process started with OPENBLAS_NUM_THREADS=1 only when it was set before NumPy loaded)
    threadpool_limits(1)
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
    cv2.setRNGSeed(seed % 2**31)
