"""queue layer (see DESIGN.md)."""
