"""Converters from official Distilled Decoding checkpoints to DD Studio packs (in progress: see README.md)."""
