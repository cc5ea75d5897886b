"""Deprecated (until 0.3): the old name of :mod:`dboost.runner`; ``python -m dboost.batch`` still runs ``dboost run``."""
if __name__ == "__main__": import sys; from dboost.runner import main; sys.exit(main())  # noqa: E401,E701,E702
