"""The grader's own checking code, copied at release (see ``MIRRORED`` in ``grader/release/student_kit.py``).

Modules here are the grader's, word for word except that ``grader.`` imports
read ``nn_selfcheck._grader.``, plus stand-ins for what must not leave the
course: ``assignment`` (data instead of cases, reference answers and mistake
models), ``rubric`` (the visible checks' points and tolerances) and
``sandbox`` (a child process on the student's machine).
"""
