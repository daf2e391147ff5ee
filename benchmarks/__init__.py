"""Benchmarks run by `nox -s bench`; each prints its figures and a JSON summary last."""
