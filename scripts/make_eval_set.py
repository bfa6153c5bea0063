"""Build the evaluation set: long test talks with an exactly known truth (the package scripts/evalset/).

Run ``.venv/bin/python scripts/make_eval_set.py --help`` for the options.
"""

import sys

from evalset.cli import main

if __name__ == "__main__":
    sys.exit(main())
