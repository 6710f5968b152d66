"""Fixtures of the playground's tests."""
import pytest

from playground import classdb


@pytest.fixture
def db(class_db_url):
    """An engine on an empty class database (SQLite or PostgreSQL), its schema made."""
    engine = classdb.engine_for(class_db_url)
    classdb.migrate(engine)
    yield engine
    engine.dispose()
