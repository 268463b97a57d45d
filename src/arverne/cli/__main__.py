"""``python -m arverne.cli``: the same as the ``arverne`` command."""

from arverne.cli import main

main()
