"""``python -m shedding`` (and ``torchrun -m shedding``) runs the CLI."""

from shedding.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
