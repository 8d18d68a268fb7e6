"""`python -m xintud` is the `xintud` command."""

from xintud.cli import main

raise SystemExit(main())
