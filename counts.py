# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
from collections import Counter, defaultdict

from sql import Column, Literal, Null
from sql.aggregate import Min

from trytond import backend
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from .common import remove_client_writes


class KeptCountsMixin:
    """Counts of records per key, stored for the reports to read instead of
    the records.

    The records keep them exact in the transaction that changes them: what
    a change adds to a key is an UPDATE of one row of the key, or an INSERT
    when it has none.  _count_key names the key columns, _count_names the
    counts, and _counts_query returns the query of the counts per key of
    all the records or of those given by ids."""
    __slots__ = ()
    _count_key = []
    _count_names = []

    @classmethod
    def __setup__(cls):
        super().__setup__()
        # Counted by the records, never by a client
        remove_client_writes(cls)

    @classmethod
    def __register__(cls, module):
        created = not backend.TableHandler.table_exist(cls._table)
        super().__register__(module)
        if created:
            cls.rebuild()

    @classmethod
    def rebuild(cls):
        "Count again every record"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        query = cls._counts_query()
        cursor.execute(*table.delete())
        cursor.execute(*table.insert(
                [Column(table, c.output_name) for c in query.columns],
                query))

    @classmethod
    def _counts_query(cls, **ids):
        """Return the query of the counts per key of all the records or of
        those of the ids, its columns named after those of the table"""
        raise NotImplementedError

    @classmethod
    def counts(cls, **ids):
        """Return the counts per key of the records given by ids with the
        name of one argument of _counts_query"""
        (name, records), = ids.items()
        cursor = Transaction().connection.cursor()
        result = defaultdict(Counter)
        for sub_ids in grouped_slice(records, backend.MAX_QUERY_PARAMS):
            cursor.execute(*cls._counts_query(**{name: list(sub_ids)}))
            for key, values in cls._rows(cursor):
                result[key].update(values)
        return result

    @classmethod
    def _rows(cls, cursor, key=None):
        "Yield the key and the counts by name of the rows of the cursor"
        key = key or cls._count_key
        names = [d[0] for d in cursor.description]
        for row in cursor:
            values = dict(zip(names, row))
            yield tuple(values.pop(k) for k in key), values

    @classmethod
    def add(cls, counts, sign=1):
        "Add (or subtract) counts per key to those stored"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        for key, values in counts.items():
            values = {c: sign * n for c, n in values.items() if n}
            if not values:
                continue
            where = Literal(True)
            for name, value in zip(cls._count_key, key):
                where &= Column(table, name) == (
                    Null if value is None else value)
            # One row of the key: two records of a new key created at once
            # may each insert one, which the sums of the reports add up
            cursor.execute(*table.update(
                    [Column(table, c) for c in values],
                    [Column(table, c) + n for c, n in values.items()],
                    where=table.id.in_(table.select(
                            Min(table.id), where=where))))
            if not cursor.rowcount:
                cursor.execute(*table.insert(
                        [Column(table, c)
                            for c in cls._count_key + cls._count_names],
                        [[*key, *(values.get(c, 0)
                                    for c in cls._count_names)]]))
            elif any(n < 0 for n in values.values()):
                # No row for a key without records, as there is none from
                # the records
                empty = Literal(True)
                for name in cls._count_names:
                    empty &= Column(table, name) == 0
                cursor.execute(*table.delete(where=where & empty))

    @classmethod
    def follow_change(cls, **ids):
        """Return the function that adds to their keys the change of the
        counts of the records given by ids (as to counts) since now"""
        before = cls.counts(**ids)
        return lambda: cls.add(merge_counts(before, cls.counts(**ids)))


def merge_counts(before, after):
    "Return the difference between the counts per key after and before"
    result = defaultdict(Counter)
    for key, values in after.items():
        result[key].update(values)
    for key, values in before.items():
        result[key].subtract(values)
    return result
