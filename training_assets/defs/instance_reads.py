"""Reads of the Dagster instance that outlast a database restart of a few seconds.

Dagster's PostgreSQL storage retries opening a connection (dagster_postgres.utils'
retry_pg_connection_fn: five more tries over about 6 s), but not a query that a restart cut off
("terminating connection due to administrator command"), nor a server still down when its
tries are spent. A step that failed on that failed its run, although the database was back a
second later. So every read of the instance in defs/, and every setting of run tags (which
is idempotent), goes through `retried`: the same idea,
a bounded number of tries with growing waits, and only for the errors of a lost connection.
Anything else (a missing table, a bad query) is raised at once. A refused login reaches
psycopg2 as a connection error too, so it fails after the tries, with its own message.
"""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy.exc

T = TypeVar("T")

# Three tries, one and two seconds apart: each spans Dagster's own connection retries, so a
# server down for up to about 20 s is outlasted, and one that stays down fails the step within
# half a minute, with its own error.
TRIES = 3
FIRST_WAIT_S = 1.0

logger = logging.getLogger(__name__)


def lost_connection(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from, is a lost or refused connection to the
    database: one that a restarted server mends."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, sqlalchemy.exc.OperationalError | sqlalchemy.exc.TimeoutError):
            return True
        if isinstance(seen, sqlalchemy.exc.DBAPIError) and seen.connection_invalidated:
            return True
        if _psycopg2_operational(seen):
            return True
        # Dagster's "too many retries for DB connection" is raised from the last such error.
        seen = seen.__cause__
    return False


def _psycopg2_operational(error: BaseException) -> bool:
    try:
        import psycopg2
    except ImportError:  # an instance without PostgreSQL
        return False
    return isinstance(error, psycopg2.OperationalError)


def retried(
    read: Callable[[], T], what: str, tries: int = TRIES, first_wait_s: float = FIRST_WAIT_S
) -> T:
    """`read()`, tried again after a lost connection to the instance's database, up to
    `tries` times in all with waits doubling from `first_wait_s`; `what` names the read in the
    log. The last error is raised as it was."""
    for attempt in range(1, tries + 1):
        try:
            return read()
        except Exception as error:
            if attempt == tries or not lost_connection(error):
                raise
            wait = first_wait_s * 2 ** (attempt - 1)
            logger.warning(
                f"Reading {what} from the Dagster instance failed on a lost database "
                f"connection ({type(error).__name__}); try {attempt + 1} of {tries} in {wait:g} s"
            )
            time.sleep(wait)
    raise AssertionError("unreachable")  # the loop returns or raises
