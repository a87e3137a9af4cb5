"""Type stubs of the C kernels in `_mih.c`."""

from collections.abc import Sequence

import numpy as np

def search(
    codes: np.ndarray,
    alive: np.ndarray,
    tables: Sequence[tuple[np.ndarray, np.ndarray]],
    built: int,
    total: int,
    query: np.ndarray,
    radius: int,
    use_tables: bool,
    out_slots: np.ndarray,
    out_dists: np.ndarray,
) -> int: ...
def build(
    codes: np.ndarray, n: int, table: int, offsets: np.ndarray, order: np.ndarray
) -> None: ...
