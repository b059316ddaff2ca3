"""Converters from official Distilled Decoding checkpoints (LlamaGen-DD, VAR-DD) to DD Studio packs: see README.md."""
