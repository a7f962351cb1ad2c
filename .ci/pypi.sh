#!/usr/bin/env bash
# Debian's real wheels for internal/pypi's installer tests (pip and setuptools are too
# big to commit; wheel's is in internal/pypi/testdata). Idempotent; installs only what is
# missing. Prints the directory that holds the wheels.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
ci_apt_install python3-pip-whl python3-setuptools-whl python3-wheel-whl
echo /usr/share/python-wheels
