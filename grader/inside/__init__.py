"""Code that runs inside the sandbox, next to student code.

Everything in this package is visible to the submission, so it holds no
answers and imports nothing from the rest of :mod:`grader` (only the standard
library, NumPy and torch, and its own modules through relative imports): the
sandbox mounts this folder alone, under another name.
"""
