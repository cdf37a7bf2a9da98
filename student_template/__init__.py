"""Starter code for the assignment: fill in `numpy_net.py` and `torch_net.py`.

Read `README.md` in this folder first. Check your work with
``grader check path/to/your/folder``.
"""
