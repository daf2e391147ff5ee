"""The pure market models of SPEC section 6: regimes, SPX, SPY, news, retail flow.

Plain synchronous code: every function takes game time (`now_ns`) and a seeded
`numpy.random.Generator`, and returns what happened. `simulator.MarketModel` ties the
models together one tick at a time; `simulator.MarketStreams` derives one generator per
concern from the game's seed.
"""
