#!/usr/bin/env bash
# Reproduce static/vendor/ from the npm registry: fetch each package at its pinned version,
# check its integrity against the digest recorded here, copy the browser files we serve.
# The pages need no build step: these files are committed; run this only to change a version.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name  version  npm integrity (sha512, as `npm view <pkg>@<version> dist.integrity` prints it)
PACKAGES=(
  "socket.io-client 4.8.3 sha512-uP0bpjWrjQmUt5DTHq9RuoCBdFJF10cdX9X+a368j/Ft0wmaVgxlrjvK3kjvgCODOMMOz9lcaRzxmso0bTWZ/g=="
  "leaflet 1.9.4 sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA=="
  "chart.js 4.6.1 sha512-hJyniucsFmq//EvXYvJ6c6mahPoI3kaxdjVH8awTaJ/fDNWeSqqqArixMJWkWNN6fcYvPU3HneSANFNYtRi61g=="
  "swagger-ui-dist 5.35.0 sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ=="
  "axe-core 4.14.1 sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
)

# Files served, relative to each package's root, and the folder under static/vendor/ they go to.
files_for() {
  case "$1" in
    socket.io-client) echo "socket.io dist/socket.io.min.js LICENSE" ;;
    leaflet) echo "leaflet dist/leaflet.js dist/leaflet.css dist/images LICENSE" ;;
    chart.js) echo "chartjs dist/chart.umd.min.js LICENSE.md" ;;
    swagger-ui-dist) echo "swagger-ui swagger-ui.css swagger-ui-bundle.js swagger-ui-standalone-preset.js favicon-16x16.png favicon-32x32.png LICENSE NOTICE" ;;
    # For the accessibility tests only: they inject it into the page (no template references it).
    axe-core) echo "axe-core axe.min.js LICENSE" ;;
  esac
}

rm -rf "$dest"
mkdir -p "$dest"
{
  echo "# Vendored browser libraries"
  echo
  echo "Served as they come in their npm packages (no build step). Reproduce with"
  echo "\`scripts/vendor-static.sh\`, which checks each tarball against the integrity below."
  echo "\`axe-core/\` is for the accessibility tests only (tests/browser/test_accessibility.py injects it):"
  echo "no page loads it."
  echo
  echo "| folder | npm package | version | licence | integrity |"
  echo "|---|---|---|---|---|"
} > "$work/README.md"

for entry in "${PACKAGES[@]}"; do
  read -r name version integrity <<<"$entry"
  tarball=$(cd "$work" && npm pack --silent "$name@$version")
  actual="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w0)"
  if [ "$actual" != "$integrity" ]; then
    echo "$name@$version: integrity mismatch ($actual)" >&2
    exit 1
  fi
  mkdir -p "$work/$name"
  tar xzf "$work/$tarball" -C "$work/$name"
  read -r folder paths <<<"$(files_for "$name")"
  mkdir -p "$dest/$folder"
  for path in $paths; do
    cp -R "$work/$name/package/$path" "$dest/$folder/"
  done
  licence=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get('license', '?'))" \
    "$work/$name/package/package.json")
  echo "| \`$folder/\` | [$name](https://www.npmjs.com/package/$name) | $version | $licence | \`$integrity\` |" \
    >> "$work/README.md"
done
cp "$work/README.md" "$dest/README.md"
echo "static/vendor/ rebuilt:"
ls "$dest"
