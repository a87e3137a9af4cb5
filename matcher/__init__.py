"""From bytes to hashes: signal types, in-memory decoding, no I/O beyond the bytes handed in."""
