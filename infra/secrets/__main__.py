from securestack.components import cli
from securestack.infra.secrets.cli import main

cli.run(main)
