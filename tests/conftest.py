"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest


def _torch_on_one_thread():
    """torch on one thread while the fixture lasts: its tensors are tiny, and on a machine shared with
    other jobs torch's thread pool waits on busy cores (many times slower); some tests also compare
    boxes with runs made on one thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a whole module."""
    yield from _torch_on_one_thread()


@pytest.fixture
def one_thread():
    """One torch thread for one test."""
    yield from _torch_on_one_thread()
