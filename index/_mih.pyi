"""Type stubs of the C kernels in `_mih.c`."""

from collections.abc import Sequence

import numpy as np

def search(
    codes: np.ndarray,
    alive: np.ndarray,
    tables: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    layout: np.ndarray,
    tail_codes: np.ndarray,
    tail_alive: np.ndarray,
    queries: np.ndarray,
    code_bytes: int,
    radius: int,
    mode: int,
) -> tuple[bytes, bytes, bytes]: ...
def build(
    codes: np.ndarray,
    code_bytes: int,
    start: int,
    width: int,
    low_bits: int,
    slot_bits: int,
    offsets: np.ndarray,
    entries: np.ndarray,
    present: np.ndarray,
) -> None: ...
def trim() -> None: ...
def vectors(enabled: bool) -> bool: ...
def vectorised() -> bool: ...
