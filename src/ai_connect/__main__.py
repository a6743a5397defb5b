import sys

from ai_connect.cli import main

sys.exit(main())
