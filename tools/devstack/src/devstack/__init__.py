"""Development and test infrastructure launcher."""
