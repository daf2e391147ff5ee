"""Tournaments: every team's bot over many seeded days, played on Dask."""
