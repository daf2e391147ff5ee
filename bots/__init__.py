"""Example bots for the exchange; `bots/README.md` lists them with their commands."""
