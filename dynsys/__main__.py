import sys

from dynsys.cli import main

sys.exit(main())
