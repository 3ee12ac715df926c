"""``python -m esnkit``: the ``esnkit`` command line (:mod:`esnkit.cli`)."""

import sys

from esnkit.cli import main

sys.exit(main())
