"""The evented state's one mechanism: a feature's values plus a psygnal event per group of
values that change together (napari's evented models, without pydantic or Qt).

A setter emits only when a value really changes, so a widget that mirrors a value (a slider)
and the state it drives cannot ping-pong; values that change together (a picture and its
people) are all in place before their one event goes out.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from psygnal import SignalGroup


def same(a: Any, b: Any) -> bool:
    """Equal for the purpose of an event: arrays by value (NaN equal to NaN), plain values by
    type and value, sets by members, anything else (models, lists of results) by identity."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, (int, float, str, tuple, frozenset)) or a is None:
        return type(a) is type(b) and a == b
    return a is b


class Evented:
    """Base of the feature states: subclasses set `events` (their SignalGroup) and their
    values in __init__ and change values only through `_update`."""

    events: SignalGroup

    def _update(self, event: str, **values: Any) -> bool:
        """Set `values` and emit `event` once, unless every value is already the same."""
        if all(same(getattr(self, name), value) for name, value in values.items()):
            return False
        for name, value in values.items():
            setattr(self, name, value)
        getattr(self.events, event).emit()
        return True
