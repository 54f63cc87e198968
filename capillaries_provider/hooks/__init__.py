"""hooks layer (see DESIGN.md)."""
