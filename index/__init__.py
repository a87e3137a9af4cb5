"""Nearest-neighbour indexes of fixed-width binary codes: ids and distances out."""

from index.base import HashIndex, Hits, codes_from_bytes
from index.brute import BruteForceIndex
from index.exact import ExactIndex
from index.flat import FlatIndex
from index.mih import MIHIndex

__all__ = [
    "BruteForceIndex",
    "ExactIndex",
    "FlatIndex",
    "HashIndex",
    "Hits",
    "MIHIndex",
    "codes_from_bytes",
]
