"""encoder-cli: run a Transformer encoder step by step and show every intermediate matrix."""

__version__ = "0.1.0"
