from progdemix_tui.cli import main

raise SystemExit(main())
