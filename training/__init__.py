"""Everything that builds the embedded checkpoints: corpus, tokenizers, training, evaluation.

The app never imports this package; it may import models/ (the runtime).
"""
