"""One module per `ceremony` subcommand; each is thin and calls into the rooms."""
