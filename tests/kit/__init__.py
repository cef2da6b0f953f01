"""Test kits: small real-kind artefacts (tokenizers, checkpoints) built by the libraries themselves."""
