"""Code the tests run in a process of their own (`python -m tests.in_subprocess.NAME ...`), where
the Keras backend or TensorFlow's devices must be chosen before anything imports them. Real
modules rather than strings, so that linters and readers see them."""
