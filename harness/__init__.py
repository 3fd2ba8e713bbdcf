"""crossgrad's harness: cases, running, comparison, diagnosis, reports and the CLI."""
