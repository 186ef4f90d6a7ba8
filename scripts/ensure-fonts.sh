#!/usr/bin/env bash
# Make sure the Debian Thai fonts that synthesis renders with are present (installs them as root).
set -euo pipefail
# fonts-noto-extra: Noto Sans/Serif Thai from Thin to Black and Condensed (stroke and width variety);
# fonts-freefont-ttf: FreeSerif, one more Thai design.
packages=(fonts-thai-tlwg fonts-noto-core fonts-noto-ui-core fonts-arundina fonts-noto-extra fonts-freefont-ttf)
have_fonts() {
    compgen -G "/usr/share/fonts/truetype/tlwg/*.ttf" >/dev/null &&
        compgen -G "/usr/share/fonts/truetype/noto/NotoSansThai-*.ttf" >/dev/null &&
        compgen -G "/usr/share/fonts/truetype/noto/NotoSansThaiUI-*.ttf" >/dev/null &&
        compgen -G "/usr/share/fonts/truetype/arundina/*.ttf" >/dev/null &&
        compgen -G "/usr/share/fonts/truetype/noto/NotoSansThai-Thin.ttf" >/dev/null &&
        compgen -G "/usr/share/fonts/truetype/freefont/FreeSerif.ttf" >/dev/null
}
have_fonts && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Thai fonts: ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
    have_fonts && exit 0
fi
echo "Thai fonts are missing. Install them with: sudo apt-get install -y ${packages[*]}" >&2
echo "(or pass a folder of Thai .ttf fonts to the synthesis command)" >&2
exit 1
