"""Benchmarks: hashwall measured side by side with its peers, results in RESULTS.md."""
