"""``python -m thaiocr`` runs the command line (also under torchrun)."""

import sys

from thaiocr.cli import main

sys.exit(main())
