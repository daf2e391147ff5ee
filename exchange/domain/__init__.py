"""The pure core of the exchange.

Nothing in this package imports asyncio, a web framework, a database or a socket; nothing
reads the wall clock or the global random module. Every function is handed `now` (game
time in nanoseconds) and, where it draws, a seeded `numpy.random.Generator`, and returns
what happened instead of sending it. The same code runs live, in a replay and in a test.
"""
