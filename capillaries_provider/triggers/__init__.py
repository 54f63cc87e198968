"""triggers layer (see DESIGN.md)."""
