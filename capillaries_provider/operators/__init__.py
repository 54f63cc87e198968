"""operators layer (see DESIGN.md)."""
