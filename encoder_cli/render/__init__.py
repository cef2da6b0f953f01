"""Renderers turn a Trace (and the steps a filter kept) into text or renderables; they never print."""
