"""The galaxy's observations and constants, fetching and checksums, and every path."""
