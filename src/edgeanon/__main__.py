"""Allow ``python -m edgeanon``."""

from edgeanon.cli import main

raise SystemExit(main())
