"""``python -m eels_helpers.cli COMMAND ...`` (the same as ``eels-id``; used by torchrun)."""

import sys

from eels_helpers.cli import main

sys.exit(main())
