#!/usr/bin/env bash
# What the catalogue's tests need (reprobuild serve): a PostgreSQL server (the tests run
# initdb and pg_ctl themselves on a free 127.0.0.1 port, as nobody when root) and Debian's
# chromium for the headless browser test. Idempotent: installs Debian packages only when
# missing. Prints the PostgreSQL bin directory on stdout; logs go to stderr.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
ci_apt_install postgresql chromium fonts-dejavu-core
# Debian starts a cluster on :5432 as a service; the tests start their own on free ports
# and leave it alone.
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ] || [ ! -x "$bin/pg_ctl" ]; then
  echo "catalog: initdb/pg_ctl not found under /usr/lib/postgresql/*/bin" >&2
  exit 1
fi
id nobody >/dev/null || { echo "catalog: user nobody is missing (postgres refuses to run as root)" >&2; exit 1; }
echo "catalog: $("$bin/postgres" --version), $(chromium --version 2>/dev/null || echo 'chromium ?')" >&2
echo "$bin"
