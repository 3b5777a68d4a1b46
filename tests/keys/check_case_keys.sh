#!/bin/bash
# The case-key check (tools/case-keys): passes on cases/README.md as committed, and fails (exit 1,
# naming the line) on copies where a default, a range or a hand-written key disagrees with the code.
# Usage: check_case_keys.sh KARMAN_BINARY
set -u
karman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$root/tools/case-keys" --karman "$karman" || fail "cases/README.md disagrees with the schema"

# A changed default in the generated reference (solver.rtol of kind reference: 1e-10).
sed '/case-keys:begin/,/case-keys:end/s/^| `solver.rtol` | number | `1e-10` |/| `solver.rtol` | number | `1e-9` |/' \
  "$root/cases/README.md" > "$work/default.md"
cmp -s "$root/cases/README.md" "$work/default.md" && fail "the tampering found no solver.rtol row"
out=$("$root/tools/case-keys" --karman "$karman" --readme "$work/default.md")
[ $? -eq 1 ] || fail "a changed default passed the check"
grep -q 'documented as | `solver.rtol` | number | `1e-9`' <<<"$out" || fail "no line names it: $out"

# A changed range (grid.dim of kind reference).
sed '/case-keys:begin/,/case-keys:end/s/^\(| `grid.dim` | integer | [^|]* | \)between 1 and 3/\1between 1 and 4/' \
  "$root/cases/README.md" > "$work/range.md"
cmp -s "$root/cases/README.md" "$work/range.md" && fail "the tampering found no grid.dim row"
"$root/tools/case-keys" --karman "$karman" --readme "$work/range.md" >/dev/null
[ $? -eq 1 ] || fail "a changed range passed the check"

# A hand-written table row for a key no kind reads.
sed 's/^| `pde.kappa` |/| `pde.kapa` | number | `1` | > 0 | heat | typo |\n&/' \
  "$root/cases/README.md" > "$work/unknown.md"
out=$("$root/tools/case-keys" --karman "$karman" --readme "$work/unknown.md")
[ $? -eq 1 ] || fail "a documented key the code does not read passed the check"
grep -q "key 'pde.kapa' is read by no kind's schema" <<<"$out" || fail "no line names it: $out"
echo "ok"
