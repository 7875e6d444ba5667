"""One module per subcommand: ``HELP``, ``configure(parser)``, ``run(args) -> int`` (see ``lamina.cli.main``)."""
