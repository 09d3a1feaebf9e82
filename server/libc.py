"""Functions of the C library that Python's os module does not wrap (prctl, sync_file_range), for
the places that use them where the platform has them: Linux. Elsewhere they are left out, and the
callers do without (their use is a safeguard or a hint, never needed for correctness)."""

from __future__ import annotations

import ctypes
import sys


def function(name: str):
    """libc's function `name` as a ctypes function (errno kept for ctypes.get_errno), or None when
    not on Linux or when this libc has no such function."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
