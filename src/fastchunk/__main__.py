"""python -m fastchunk: the `fastchunk` command."""
import sys

from .cli import main

sys.exit(main())
