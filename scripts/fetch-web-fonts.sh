#!/usr/bin/env bash
# Add more Thai type designs for synthesis: open-licensed (OFL) families that the npm registry
# carries as @fontsource packages. Each package splits its faces by script; every face's Thai and
# Latin subsets are joined into one WOFF (scripts/merge_web_fonts.py), so these families render Thai,
# Arabic digits and English alike. Runs once at set-up into the virtualenv; the package never
# downloads anything at run time. Without npm it says so and changes nothing.
set -euo pipefail
dest=${1:?usage: fetch-web-fonts.sh DEST_DIR PYTHON}
python=${2:?usage: fetch-web-fonts.sh DEST_DIR PYTHON}
# Text faces of varied shapes (looped, loopless, slab, serif, rounded); pinned for reproducible data.
packages=(
    mitr@5.3.0 athiti@5.2.8 bai-jamjuree@5.3.0 k2d@5.2.8 krub@5.2.7 niramit@5.3.0
    kodchasan@5.2.8 fahkwang@5.3.0 chonburi@5.3.0 koho@5.3.0 maitree@5.3.0 pridi@5.3.0
    taviraj@5.3.0 trirong@5.3.0 anuphan@5.3.0 ibm-plex-sans-thai@5.3.0 ibm-plex-sans-thai-looped@5.3.0
)
# The stamp names the layout too: a folder of Thai-only subsets (before the Latin join) is redone.
stamp="$dest/.complete-thai-latin-${#packages[@]}"
[ -e "$stamp" ] && exit 0
if ! command -v npm >/dev/null; then
    echo "npm not found: synthesis uses the Debian and wheel fonts only (install Node.js for ${#packages[@]} more Thai families)" >&2
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "Fetching ${#packages[@]} Thai font families from the npm registry (@fontsource, OFL)"
(cd "$work" && npm pack --silent "${packages[@]/#/@fontsource/}" >/dev/null)
rm -rf "$dest"
mkdir -p "$dest"
for tarball in "$work"/*.tgz; do
    family=$(basename "$tarball" | sed -E 's/^fontsource-(.*)-[0-9.]+\.tgz$/\1/')
    mkdir -p "$work/$family" "$dest/$family"
    tar -xzf "$tarball" -C "$work/$family" --wildcards \
        'package/files/*-thai-[0-9]*.woff' 'package/files/*-latin-[0-9]*.woff' 'package/LICENSE'
    cp "$work/$family/package/LICENSE" "$dest/$family/"
done
"$python" "$(dirname "$0")/merge_web_fonts.py" "$work" "$dest"
touch "$stamp"
