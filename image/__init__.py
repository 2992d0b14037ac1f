"""Build, verify and boot the ceremony DVD (`make lock`, `make image`, `make verify-reproducible`,
`make boot-test`). live-build/ holds the configuration; this package drives it."""
