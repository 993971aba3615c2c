"""Exceptions from the libraries we read files with (Pillow, SciPy, h5py, TensorFlow) as the short
reasons that users see: their messages can run to pages of stack or hexdump."""


def first_line(error):
    """An exception -> the first line of its message, or its type's name when it has none."""
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
