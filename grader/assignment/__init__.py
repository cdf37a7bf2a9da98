"""What changes per assignment: the one folder a course edits to adapt the homework.

- :mod:`.cases`: the visible and hidden inputs;
- :mod:`.expected`: the reference answers for them (computed from ``reference/``);
- :mod:`.hints`: answers of known mistakes, and what to tell a student who made one;
- ``rubric.toml``: points, tolerances and resource limits;
- ``checks/``: the checks themselves (``check_task*.py``), a pytest suite.
"""
