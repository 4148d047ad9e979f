import pytest

from .pg import postgres_cluster


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="session")
def postgres_url():
    """`postgresql://batchavatars@127.0.0.1:PORT/ledger`: a throwaway cluster of the session's own
    (tests/pg.py); skips where PostgreSQL's server is missing, fails so under CI=true."""
    yield from postgres_cluster()
