#!/usr/bin/env bash
# Set up bidcrypt on Debian 12 as root: system packages, a virtualenv in .venv, the package with its
# test dependencies. Safe to run again; apt is only called when a package is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# softhsm2: the UKey in tests and the demo; opensc: pkcs11-tool; poppler-utils: pdfsig/pdftoppm (seal
# checks); qpdf: PDF structure checks; libnss3-tools: certutil for pdfsig's trust store; openssl: the
# interop peer; fonts-wqy-microhei: Chinese glyphs for the sample documents; xfsprogs: an XFS with
# reflink, where re-encryption shares the content blocks; faketime: tests and the demo move the clock of
# a command instead of waiting for a deadline; libssl3: the system libcrypto (OpenSSL 3), which does SM2 for
# bidcrypt.gm at run time; default-jdk-headless, libbcprov-java, libbcpkix-java: BouncyCastle 1.72, the
# SM2 interop peer of Java platforms (tests/interop/java, jars in /usr/share/java); gcc, libssl-dev: build
# the soft SKF token (tests/skf/softskf.c), the SKF UKey of the tests; chromium: renders the remote
# opening-hall page headless in the tests.
APT_PACKAGES=(python3 python3-venv python3-pip softhsm2 opensc poppler-utils qpdf libnss3-tools openssl chromium
              fonts-wqy-microhei xfsprogs faketime libssl3 default-jdk-headless libbcprov-java libbcpkix-java
              gcc libssl-dev)
missing=()
for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
# node and npm run PKI.js, the CMS library of browser-based bidding platforms, as an interop peer
# (tests/interop/node). Asked by command, not by package: a NodeSource nodejs carries its own npm.
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# PKI.js and asn1js, sm-crypto and sm-crypto-v2 (the SM2/SM3/SM4 of Chinese web platforms) from the npm
# registry, at the versions of tests/interop/node/package-lock.json; installed again only when that lock
# file changes.
NODE_PEERS=tests/interop/node
if ! cmp -s "$NODE_PEERS/package-lock.json" "$NODE_PEERS/node_modules/.installed-package-lock.json"; then
    echo "setup: installing the node interop peers (npm ci in $NODE_PEERS)"
    (cd "$NODE_PEERS" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$NODE_PEERS/package-lock.json" "$NODE_PEERS/node_modules/.installed-package-lock.json"
fi

# The soft SKF token: build/softskf/libsoftskf.so (with the fast path) and libsoftskf-std.so (without);
# rebuilt only when its source changes.
bash tests/skf/build.sh

PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -c 'import bidcrypt, pkcs11, pyhanko, cryptography' || { echo "setup: install failed" >&2; exit 1; }
echo "setup: ready (.venv)"
