"""axonal."""
