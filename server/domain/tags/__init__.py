"""Tags and tag groups."""
