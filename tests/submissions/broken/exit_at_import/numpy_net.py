"""Exits while being imported: every NumPy check errors, the torch checks are graded normally."""
import sys

sys.exit(0)
