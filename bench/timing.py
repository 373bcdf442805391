"""Latency measurement shared by the benchmarks."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import numpy as np


def latencies_ms(call: Callable, inputs: Iterable) -> np.ndarray:
    """Wall time of `call(x)` for each input, in milliseconds."""
    times = []
    for x in inputs:
        start = time.perf_counter()
        call(x)
        times.append(time.perf_counter() - start)
    return np.array(times) * 1e3
