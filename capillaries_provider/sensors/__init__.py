"""sensors layer (see DESIGN.md)."""
