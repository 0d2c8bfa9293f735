import sys

from tinygrad_act.cli import main

sys.exit(main())
