"""Fast Style Transfer: the package behind style.py, evaluate.py, transform_video.py and export.py.
The README's "How it works" table maps its modules."""
