"""Scenario replay: a whole game on the virtual clock, deterministic and faster than real
time (`python -m exchange replay FILE`)."""
