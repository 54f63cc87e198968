"""`capillaries worker`: processes that consume batch messages and run them through the engine."""
