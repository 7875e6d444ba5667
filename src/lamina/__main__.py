"""``python -m lamina ...``: the ``lamina`` command line."""
import sys

from lamina.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
