"""`python -m thinkgate` runs the command line."""

from thinkgate.cli import main

main()
