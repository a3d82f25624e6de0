"""``python -m beam_pipeline`` is the ``gdr`` command."""

import sys

from beam_pipeline.cli import main

sys.exit(main())
