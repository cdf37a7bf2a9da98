"""Autograder for the two-layer network homework (NumPy and PyTorch).

The pipeline, top to bottom: :func:`grader.submission.load_submission` →
:class:`grader.runner.SubmissionRunner` (student code in a sandboxed child) →
:func:`grader.checks.run_checks` (the checks, written as a pytest suite, in this process) →
:mod:`grader.report` (the JSON score report). :func:`grader.grading.grade`
strings them together.
"""

__version__ = "0.1.0"
