"""The one user-facing error: bad input. The CLI turns it into a message and exit status 2."""


class EncoderError(Exception):
    """A problem with what the user gave (weights file, sentence, options), never a bug.

    The message names the place (`w.yaml:14: layers[0].attention.W_Q`) and, where
    there is one, the fix.
    """
