"""Canonical solutions of the assignment: the network in NumPy (by hand) and in PyTorch.

`reference.numpy_net` and `reference.torch_net` implement every name of the
contract in ``docs/assignment.md`` (the student's version is the handout,
``student_template/README.md``). The grader compares submissions against them.
"""
