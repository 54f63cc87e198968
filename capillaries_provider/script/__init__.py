"""script layer (see DESIGN.md)."""
