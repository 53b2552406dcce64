"""``python -m contimg`` is the ``contimg`` command."""

from contimg.cli import main

main()
