"""The HTTP and WebSocket edge: decode, authenticate, enqueue, await, encode."""
