"""An exchange server for trading games.

`exchange.domain` decides (books, matching, validation, fees, positions, pricing);
`exchange.pipeline`, `exchange.web` and `exchange.store` are the asyncio shell around it.
"""

__version__ = "0.1.0"
