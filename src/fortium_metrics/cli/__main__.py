"""`python -m fortium_metrics.cli ...`: the same commands as the console script."""
from . import main

main()
