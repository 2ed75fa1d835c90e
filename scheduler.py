"""The long-running scheduler process (same as `digest scheduler`)."""

from digest.schedule import main

raise SystemExit(main())
