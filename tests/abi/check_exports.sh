#!/bin/sh
# libcallwire's ABI: the shared library exports the public header's functions and nothing
# else, and no SDK symbol collides with the server's, which share the `callwire` binary.
# usage: check_exports.sh HEADER LIBCALLWIRE.so LIBCALLWIRE.a LIBCALLWIRE_CORE.a
set -eu
header=$1 so=$2 sdk_a=$3 core_a=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Declared: every CW_EXTERN function name of the header.
grep -v '^#' "$header" | tr '\n' ' ' | grep -o 'CW_EXTERN[^;(]*(' | sed 's/($//; s/.*[ *]//' | sort -u >"$tmp/declared"
nm -D --defined-only "$so" | awk '$2 == "T" {print $3}' | sort -u >"$tmp/exported"

if ! cmp -s "$tmp/declared" "$tmp/exported"; then
	echo "exports differ from the header (< header only, > library only):"
	diff "$tmp/declared" "$tmp/exported" || true
	exit 1
fi
nm -g --defined-only "$sdk_a" | awk 'NF == 3 {print $3}' | sort -u >"$tmp/sdk"
nm -g --defined-only "$core_a" | awk 'NF == 3 {print $3}' | sort -u >"$tmp/core"
clash=$(comm -12 "$tmp/sdk" "$tmp/core")
if [ -n "$clash" ]; then
	echo "symbols defined by both the SDK and the server: $clash"
	exit 1
fi
echo "ok: $(wc -l <"$tmp/exported") exported functions, all declared in the header"
