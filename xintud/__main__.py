"""`python -m xintud` is the `xintud` command."""

from xintud.cli.xintud import main

raise SystemExit(main())
