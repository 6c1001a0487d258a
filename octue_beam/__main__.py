"""`python -m octue_beam <command>`."""

from octue_beam.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
