"""Queries per aggregate. Functions take a `Session`; the caller owns the transaction."""
