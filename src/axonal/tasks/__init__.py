"""End-to-end jobs: data + model + metrics + report, callable from Python and the CLI."""
