"""Process-wide tuning done once at start-up (standard library only).

``tune_allocator`` keeps freed large blocks in the heap instead of handing them back to the
kernel. The engine allocates a few dozen arrays of N float64 per recompute; with glibc's default
(mmap for blocks over its threshold, unmapped on free) every one of them is page-faulted in
again on every tick, which at 100,000 positions costs more than the maths (benchmarks/engine.py
measures both).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
_tuned: bool | None = None


def tune_allocator(mmap_threshold: int = 256 << 20, trim_threshold: int = 1 << 30) -> bool:
    """On glibc, raise the mmap and trim thresholds (bytes); returns whether it applied."""
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _tuned = bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold))
    mallopt(_M_TOP_PAD, 64 << 20)
    return _tuned
