"""Todo trees."""
