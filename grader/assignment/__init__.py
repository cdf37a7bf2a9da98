"""What changes per assignment: the one folder a course edits to adapt the homework.

- :mod:`.cases`: the visible and hidden inputs;
- :mod:`.expected`: the reference answers for them (computed from ``reference/``);
- :mod:`.hints`: answers of known mistakes, and what to tell a student who made one;
- :mod:`.variants`: the known wrong versions of the reference those answers come from;
- :mod:`.diagnose`: where a failure no known mistake explains first goes wrong;
- :mod:`.state`: the state check (a function called twice must answer the same);
- ``rubric.toml``: points, tolerances and resource limits;
- ``checks/``: the checks themselves (``check_task*.py``), written as a pytest suite (pytest collects them).
"""
