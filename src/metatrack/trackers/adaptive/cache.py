"""The feature cache of meta-training: a frozen backbone's output is computed once per frame.

Meta-training draws episodes from the same frames again and again; with a frozen backbone their
features never change, so an iteration costs only head work once its frames were seen. The cache
is a least-recently-used map bounded by an item count, a byte budget, or both.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import torch


def nbytes(value: Any) -> int:
    """Bytes held by the tensors in ``value`` (a tensor, or a tuple/list holding some)."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, tuple | list):
        return sum(nbytes(v) for v in value)
    return 0


class FeatureCache:
    """Values by key, least recently used dropped beyond ``max_items`` or ``max_bytes``.

    A value larger than ``max_bytes`` on its own is returned but not kept.
    """

    def __init__(self, max_items: int | None = None, max_bytes: int | None = None):
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes(self) -> int:
        """Bytes of tensors held now."""
        return self._bytes

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value of ``key``, computed by ``compute()`` on a miss."""
        if key in self._items:
            self._items.move_to_end(key)
            self.hits += 1
            return self._items[key]
        self.misses += 1
        value = compute()
        size = nbytes(value)
        if self.max_bytes is not None and size > self.max_bytes:
            return value
        self._items[key] = value
        self._bytes += size
        while (self.max_items is not None and len(self._items) > self.max_items) or (
            self.max_bytes is not None and self._bytes > self.max_bytes
        ):
            _, old = self._items.popitem(last=False)
            self._bytes -= nbytes(old)
        return value
