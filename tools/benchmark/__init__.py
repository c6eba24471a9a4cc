# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""The benchmark run by tools/bench: driver, fill, queries, measure, report."""
