import sys

from infra.secrets.cli import main

sys.exit(main())
