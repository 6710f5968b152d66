#!/usr/bin/env bash
# Prepare this machine's PostgreSQL (Debian's postgresql package) as the class database of MNIST
# Playground, and print its SQLAlchemy URL on stdout: only the URL, nothing else (the rest goes to
# stderr). deploy/run.sh calls it for DB=postgres.
#
#   deploy/postgres.sh               # the URL for the app processes of this machine
#   deploy/postgres.sh --share HOST  # the URL for app machines elsewhere, HOST being this machine's
#                                    # name or address as they reach it. It holds the password:
#                                    # treat it as one (README.md, "Several machines").
#
# What it does, each step only if needed:
#   1. starts PostgreSQL (`service postgresql start`, as root) and waits until it answers;
#   2. makes a random password and keeps it in PG_PASSFILE (mode 600, in libpq's .pgpass format);
#   3. makes the role and database PG_NAME (owned by that role), sets the role's password (hashed
#      here, so the plain password reaches neither the server nor its logs), and checks a login.
# Step 3 is done as the postgres user (runuser as root, else sudo -u postgres); if logging in
# with PG_PASSFILE already works, nothing is changed and no privileges are needed.
#
# The URL has no password in it: libpq reads it from PG_PASSFILE (passfile=...), so the URL can be
# shown and logged. The app connects over TCP to 127.0.0.1 with that password: Debian's pg_hba.conf
# allows that (scram-sha-256) for every role; its unix socket only takes OS users by name (peer).
#
# Settings (environment):
#   PG_NAME      role and database (default mnist_playground)
#   PG_PORT      the server's port (default 5432, Debian's first cluster; see pg_lsclusters)
#   PG_PASSFILE  where the password is kept (default: the app's data folder,
#                ~/.local/share/mnist-playground/postgres.pgpass, beside the default SQLite file;
#                it must outlive a run of run.sh, like the database)
set -euo pipefail

NAME=${PG_NAME:-mnist_playground}
PORT=${PG_PORT:-5432}
PASSFILE=${PG_PASSFILE:-${XDG_DATA_HOME:-$HOME/.local/share}/mnist-playground/postgres.pgpass}
SHARE=
case ${1:-} in
    "") ;;
    --share) SHARE=${2:?--share needs the host name or address other machines use for this one} ;;
    *) echo "usage: $0 [--share HOST]" >&2; exit 2 ;;
esac
[[ $NAME =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "PG_NAME must be a plain lower-case SQL name, not '$NAME'" >&2; exit 2; }
[[ $PORT =~ ^[0-9]+$ ]] || { echo "PG_PORT must be a number, not '$PORT'" >&2; exit 2; }
if ! command -v psql >/dev/null || ! command -v pg_isready >/dev/null; then
    echo "no PostgreSQL here: apt-get install -y --no-install-recommends postgresql" >&2
    exit 1
fi

as_postgres() {  # run a command as the postgres OS user, from a folder it may enter
    if [[ $(id -u) == 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && sudo -u postgres "$@")
    fi
}

sql() {  # one SQL statement (from stdin) as the postgres superuser; prints the result rows
    as_postgres psql -X -q -t -A -v ON_ERROR_STOP=1 -p "$PORT" -d postgres
}

login_works() {  # whether the app's login (role, database, password file) works
    [[ -r $PASSFILE ]] &&
        PGPASSFILE=$PASSFILE PGCONNECT_TIMEOUT=5 psql -X -q -t -A -w -h 127.0.0.1 -p "$PORT" -U "$NAME" -d "$NAME" \
            -c 'SELECT 1' >/dev/null 2>&1
}

# 1. the server
if ! pg_isready -q -h 127.0.0.1 -p "$PORT"; then
    if [[ $(id -u) == 0 ]]; then
        echo "starting PostgreSQL (service postgresql start)" >&2
        service postgresql start >&2
    else
        echo "PostgreSQL does not answer on 127.0.0.1:$PORT; start it: sudo service postgresql start" >&2
    fi
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p "$PORT" && break; sleep 1; done
    pg_isready -q -h 127.0.0.1 -p "$PORT" ||
        { echo "PostgreSQL does not answer on 127.0.0.1:$PORT (pg_lsclusters shows its clusters and ports)" >&2; exit 1; }
fi

# 2. the password
if [[ ! -s $PASSFILE ]]; then
    mkdir -p "$(dirname "$PASSFILE")"
    password=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')   # 48 hex digits: nothing to escape
    (umask 077 && printf '*:*:%s:%s:%s\n' "$NAME" "$NAME" "$password" >"$PASSFILE")
    echo "made a password for the PostgreSQL role $NAME, kept in $PASSFILE" >&2
fi
chmod 600 "$PASSFILE"   # libpq ignores a password file that others may read
password=$(grep -m1 "^[^:]*:[^:]*:$NAME:$NAME:" "$PASSFILE" | cut -d: -f5-) ||
    { echo "$PASSFILE has no line for $NAME (host:port:database:user:password)" >&2; exit 1; }

# 3. the role and the database
if ! login_works; then
    # SCRAM-SHA-256 verifier of the password, as psql's \password makes it: the server stores
    # only this, and a statement log never shows the password.
    # shellcheck disable=SC2016  # (the Python below is meant literally)
    verifier=$(printf '%s' "$password" | python3 -c '
import base64, hashlib, hmac, os, sys
password, salt, n = sys.stdin.buffer.read(), os.urandom(16), 4096
salted = hashlib.pbkdf2_hmac("sha256", password, salt, n)
client = hmac.new(salted, b"Client Key", "sha256").digest()
server = hmac.new(salted, b"Server Key", "sha256").digest()
b64 = lambda b: base64.b64encode(b).decode()
print(f"SCRAM-SHA-256${n}:{b64(salt)}${b64(hashlib.sha256(client).digest())}:{b64(server)}")')
    if [[ $(echo "SELECT 1 FROM pg_roles WHERE rolname = '$NAME'" | sql) != 1 ]]; then
        echo "making the PostgreSQL role $NAME" >&2
        printf "CREATE ROLE %s LOGIN PASSWORD '%s'" "$NAME" "$verifier" | sql
    else
        echo "setting the password of the PostgreSQL role $NAME to the one in $PASSFILE" >&2
        printf "ALTER ROLE %s LOGIN PASSWORD '%s'" "$NAME" "$verifier" | sql
    fi
    if [[ $(echo "SELECT 1 FROM pg_database WHERE datname = '$NAME'" | sql) != 1 ]]; then
        echo "making the PostgreSQL database $NAME" >&2
        as_postgres createdb -p "$PORT" -O "$NAME" "$NAME"
    fi
    login_works || { echo "cannot log in as $NAME to the database $NAME on 127.0.0.1:$PORT with the password" \
                          "in $PASSFILE; see pg_hba.conf (it must allow scram-sha-256 from 127.0.0.1)" >&2; exit 1; }
fi

if [[ -n $SHARE ]]; then
    echo "the URL below holds the password: give it only to the app machines (README.md)" >&2
    echo "postgresql+psycopg://$NAME:$password@$SHARE:$PORT/$NAME?connect_timeout=10"
else
    passfile=$(printf '%s' "$PASSFILE" | python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read()))')
    echo "postgresql+psycopg://$NAME@127.0.0.1:$PORT/$NAME?connect_timeout=10&passfile=$passfile"
fi
