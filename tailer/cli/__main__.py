from tailer.cli import main

raise SystemExit(main())
