"""Stand-ins for the grader's assignment modules: data from ``data.json``, no reference code."""
