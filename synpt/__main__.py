"""`python -m synpt` is the same as the `synpt` command."""

import sys

from synpt.cli import main

sys.exit(main())
