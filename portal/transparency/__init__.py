"""An RFC 9162 Merkle log of access events, with signed checkpoints and
proofs. Imports nothing from Flask and nothing from the areas above it."""
