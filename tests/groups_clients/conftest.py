"""Real-client group tests: helpers on the path."""
