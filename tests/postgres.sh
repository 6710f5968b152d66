# Source this (". tests/postgres.sh") as root on Debian or Ubuntu with the postgresql package
# installed: it starts PostgreSQL, makes a role and an empty database for the tests if they are
# missing, and exports MNIST_PLAYGROUND_TEST_POSTGRES, so that the class database's tests run on
# PostgreSQL as well as on SQLite. Without it those cases are skipped.
service postgresql start >/dev/null
for _ in $(seq 1 30); do su postgres -c "pg_isready -q" && break; sleep 1; done
su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname = 'playground'\"" | grep -q 1 ||
    su postgres -c "psql -qc \"CREATE ROLE playground LOGIN PASSWORD 'playground'\""
su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = 'playground_test'\"" | grep -q 1 ||
    su postgres -c "createdb -O playground playground_test"
export MNIST_PLAYGROUND_TEST_POSTGRES="postgresql+psycopg://playground:playground@127.0.0.1:5432/playground_test"
