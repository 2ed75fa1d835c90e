"""The long-running scheduler process (same as `digest scheduler`)."""

from digest.cli.scheduler import main

raise SystemExit(main())
