#!/usr/bin/env bash
# Makes PostgreSQL's server binaries (initdb, pg_ctl) available for tests/tune's throwaway server.
# Quiet and idempotent: does nothing when initdb is already there; installs Debian's `postgresql`
# with apt-get only when it is missing and we may (root + apt-get). Never fails the caller: without
# initdb the PostgreSQL test skips with a reason.
set -u
if command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "[ensure_postgres] initdb not found and cannot apt-get install postgresql (not root or no apt);" \
       "the PostgreSQL test will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1; then
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1 \
    || echo "[ensure_postgres] apt-get install postgresql failed; the PostgreSQL test will skip" >&2
fi
exit 0
