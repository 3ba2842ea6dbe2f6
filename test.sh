#!/usr/bin/env bash
# test.sh: go test -race in every module of the repository, the root and
# each nested one (every directory holding a go.mod), so that a new module
# cannot be left out. Extra arguments go to every go test (./test.sh -count=1).
#
# The PostgreSQL and Redis tests start real servers on loopback, and the
# browser test (examples/browsertest) starts headless chromium; without
# postgresql, redis-server or chromium installed they skip, saying how to
# install them, unless CI is set, when they fail.
set -uo pipefail
cd "$(dirname "$0")"

failed=()
while IFS= read -r mod; do
	echo "== $mod"
	(cd "$mod" && go test -race "$@" ./...) || failed+=("$mod")
done < <(find . -name go.mod -not -path './.git/*' | sed 's#/go.mod$##' | sort)

if [ ${#failed[@]} -ne 0 ]; then
	echo "test.sh: tests failed in: ${failed[*]}" >&2
	exit 1
fi
