"""Starter code for the assignment: fill in `numpy_net.py` and `torch_net.py`.

Read `README.md` in this folder first. Check your work with the self-check
your course hands out with this template (``python check.py``, see README.md).
"""
