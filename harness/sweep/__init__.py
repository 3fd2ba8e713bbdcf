"""`crossgrad sweep`: differential testing of every implementation over many random configurations.

    draw.py     random valid configurations from a seed (exact values, so `exact` is the reference)
    run.py      run every implementation on each, compare, time, collect mismatches by cause
    shrink.py   reduce a failing configuration to the smallest one that still fails
    report.py   JSON + Markdown under results/, the summary table, rerun commands
"""
