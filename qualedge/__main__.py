import sys

from qualedge.cli import main

sys.exit(main())
