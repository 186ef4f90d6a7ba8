#!/usr/bin/env bash
# Add more Thai type designs for synthesis: the Thai subsets of open-licensed (OFL) families that the
# npm registry carries as @fontsource packages. Each package ships its families split by script;
# only the Thai-subset .woff files are kept (they hold the Thai block, Thai digits and the space,
# no Latin), so fonts.py gives them Thai-only lines. Runs once at set-up into the virtualenv; the
# package never downloads anything at run time. Without npm it says so and changes nothing.
set -euo pipefail
dest=${1:?usage: fetch-web-fonts.sh DEST_DIR}
# Text faces of varied shapes (looped, loopless, slab, serif, rounded); pinned for reproducible data.
packages=(
    mitr@5.3.0 athiti@5.2.8 bai-jamjuree@5.3.0 k2d@5.2.8 krub@5.2.7 niramit@5.3.0
    kodchasan@5.2.8 fahkwang@5.3.0 chonburi@5.3.0 koho@5.3.0 maitree@5.3.0 pridi@5.3.0
    taviraj@5.3.0 trirong@5.3.0 anuphan@5.3.0 ibm-plex-sans-thai@5.3.0 ibm-plex-sans-thai-looped@5.3.0
)
stamp="$dest/.complete-${#packages[@]}"
[ -e "$stamp" ] && exit 0
if ! command -v npm >/dev/null; then
    echo "npm not found: synthesis uses the Debian and wheel fonts only (install Node.js for ${#packages[@]} more Thai families)" >&2
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "Fetching ${#packages[@]} Thai font families from the npm registry (@fontsource, OFL)"
(cd "$work" && npm pack --silent "${packages[@]/#/@fontsource/}" >/dev/null)
mkdir -p "$dest"
for tarball in "$work"/*.tgz; do
    family=$(basename "$tarball" | sed -E 's/^fontsource-(.*)-[0-9.]+\.tgz$/\1/')
    mkdir -p "$work/$family" "$dest/$family"
    tar -xzf "$tarball" -C "$work/$family" --wildcards 'package/files/*-thai-[0-9]*.woff' 'package/LICENSE'
    # mitr-thai-400-normal.woff -> Mitr-400.woff: fonts.py takes the family from the text before "-".
    name=$(echo "$family" | sed -E 's/(^|-)([a-z0-9])/\U\2/g')
    for woff in "$work/$family"/package/files/*-thai-[0-9]*.woff; do
        style=$(basename "$woff" .woff | sed -E 's/.*-thai-([0-9]+)-(normal|italic)$/\1\2/; s/normal$//; s/italic$/Italic/')
        cp "$woff" "$dest/$family/$name-$style.woff"
    done
    cp "$work/$family/package/LICENSE" "$dest/$family/"
done
touch "$stamp"
