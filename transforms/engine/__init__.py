"""Torch scoring engine (no Beam imports): templating, model loading, density-ratio scoring."""
