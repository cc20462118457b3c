import sys

from securestack.infra.secrets.cli import main

sys.exit(main())
