#!/bin/sh
# `make install` gives a usable SDK: installed into a scratch DESTDIR, the header, the shared
# library and callwire.pc build the example program, which then runs from there.
# usage: check_install.sh BUILD_DIR SOURCE_DIR [EXTRA_CFLAGS]
# (EXTRA_CFLAGS: the sanitizer flags of a sanitized build, whose library needs them.)
set -eu
build=$1 src=$2 extra=${3:-}
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

DESTDIR=$dest cmake --install "$build" --prefix /usr >/dev/null
pc=$(find "$dest" -name callwire.pc)
[ -n "$pc" ] || { echo "callwire.pc not installed"; exit 1; }
[ -f "$dest/usr/include/callwire/callwire.h" ] || { echo "header not installed"; exit 1; }
[ -x "$dest/usr/bin/callwire" ] || { echo "binary not installed"; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
ls "$libdir"/libcallwire.so.0 "$libdir"/libcallwire.a >/dev/null

export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$dest
cc -std=c17 -Wall -Werror $extra -o "$dest/ring" "$src/examples/ring.c" \
	$(pkg-config --cflags --libs callwire) -lpthread
# Linked against the installed shared library, and it loads and runs from there.
LD_LIBRARY_PATH=$libdir ldd "$dest/ring" | grep -q "$libdir/libcallwire.so.0"
set +e
LD_LIBRARY_PATH=$libdir "$dest/ring" >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "ring without arguments exited $rc, not 2 (usage)"; exit 1; }
echo "ok: installed SDK builds and runs examples/ring.c"
