"""`python -m fhir_server` is the `fhir-server` command."""

import sys

from .cli import main

sys.exit(main())
