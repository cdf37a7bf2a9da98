"""Batch mode: grade a whole class in one process tree.

- :mod:`.run`: discovery, skipping what is up to date, the main loop, the outputs;
- :mod:`.pool`: the worker processes, each with one warm sandbox;
- :mod:`.progress`: the progress bar or plain progress lines;
- :mod:`.gradebook`: ``grades.csv``;
- :mod:`.class_summary`: pass rates, histogram and ``summary.html``.
"""
