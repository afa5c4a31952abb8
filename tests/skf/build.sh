#!/usr/bin/env bash
# Build the soft SKF token (tests/skf/softskf.c, a test double of GM/T 0016) against OpenSSL 3's libcrypto:
#   build/softskf/libsoftskf.so      with the fast-path exports SKF_ECCDecrypt and SKF_RSAPriKeyDecrypt
#   build/softskf/libsoftskf-std.so  without them (-DSOFTSKF_NO_FAST_PATH): the standard path only
# Rebuilds only when the source or this script changed (a hash in build/softskf/.source-hash).
# Needs gcc and libssl-dev (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/../.."
source=tests/skf/softskf.c
out=build/softskf
hash=$(cat "$source" tests/skf/build.sh | sha256sum | cut -d' ' -f1)
if [[ -f $out/libsoftskf.so && -f $out/libsoftskf-std.so && "$(cat "$out/.source-hash" 2>/dev/null)" == "$hash" ]]; then
    exit 0
fi
mkdir -p "$out"
flags=(-std=gnu11 -O2 -Wall -Wextra -fPIC -shared -fvisibility=hidden)
gcc "${flags[@]}" -o "$out/libsoftskf.so.tmp" "$source" -lcrypto
gcc "${flags[@]}" -DSOFTSKF_NO_FAST_PATH -o "$out/libsoftskf-std.so.tmp" "$source" -lcrypto
mv "$out/libsoftskf.so.tmp" "$out/libsoftskf.so"
mv "$out/libsoftskf-std.so.tmp" "$out/libsoftskf-std.so"
echo "$hash" > "$out/.source-hash"
echo "softskf: built $out/libsoftskf.so and $out/libsoftskf-std.so"
