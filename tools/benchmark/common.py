# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"What the phases of tools/bench share: names, limits and targets, the log."
import os
import sys

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(TOOLS)
ENTRY = os.path.join(TOOLS, 'bench')  # each phase runs it again
DB_NAME = 'bench'
MODULE = 'sale_opportunity_management'
PASSWORD = 'operator-Pa55word!'  # of every operator the fill creates
LIMIT = 60  # seconds: trytond's [request] timeout, a slower screen fails

# Targets (from the issue)
RATIO_TARGET = 1.5  # × the hand-written SQL giving the same rows
SCREEN_TARGET = 0.300  # seconds, whatever the screen


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def start_pool(config_file):
    # trytond reads its configuration when its modules are first imported:
    # the phases import them only after this
    from trytond import config
    config.update_etc(config_file)
    from trytond.pool import Pool
    pool = Pool(DB_NAME)
    pool.init()
    return pool
