"""The scripts here run under mpiexec (see tests/test_distributed.py), never inside pytest:
importing one would run it, so ``--doctest-modules`` must not collect them."""

collect_ignore_glob = ["*.py"]
