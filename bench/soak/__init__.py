"""`python -m bench soak`: the real bot under a long random mix of use and faults (see run.py)."""
