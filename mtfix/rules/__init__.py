"""Built-in rule tables (TSV). See mtfix/ruletable.py for the format."""
