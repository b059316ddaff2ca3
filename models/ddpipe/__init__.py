"""DD Studio model pipeline: datasets, training, evaluation and export of model packs."""
