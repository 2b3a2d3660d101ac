from fedpriv.report import main

raise SystemExit(main())
