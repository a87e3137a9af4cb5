"""Nearest-neighbour indexes of fixed-width binary codes: ids and distances out."""

from index.base import HashIndex, Hits, codes_from_bytes
from index.brute import BruteForceIndex
from index.exact import ExactIndex
from index.flat import FlatIndex

__all__ = [
    "BruteForceIndex",
    "ExactIndex",
    "FlatIndex",
    "HashIndex",
    "Hits",
    "codes_from_bytes",
]
