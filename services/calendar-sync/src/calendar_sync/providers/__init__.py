"""Provider adapters: the same client code for the real APIs and the test emulators."""
