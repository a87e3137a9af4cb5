"""Type stubs of the C pdq kernel in `_pdq.c`."""

import numpy as np

def hash(rgb: np.ndarray, dihedral: bool) -> tuple[bytes, int]: ...
