"""The wire contract (SPEC section 8): msgspec Structs, codecs and the error table.

Everything that crosses the network is defined here and converted here: prices leave as
decimals with two places and arrive as decimals that must sit on the tick grid.
"""
