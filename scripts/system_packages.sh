#!/usr/bin/env bash
# Installs the Debian packages that two report tests need: a headless Chromium (the browser test of
# report.html) and pdflatex (the LaTeX table test). CI runs it from .ci/run as root; elsewhere the
# tests skip with a reason naming this script. Idempotent: it installs only what is missing.
# Usage: bash scripts/system_packages.sh   (prints one line per package set; exits 0 when it cannot
# install, so that the tests' own skip reasons say what is missing)
set -uo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v pdflatex >/dev/null 2>&1 || need+=(texlive-latex-base texlive-latex-recommended)
if [ ${#need[@]} -eq 0 ]; then
    echo "system packages: chromium and pdflatex already present"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "system packages: cannot install ${need[*]} (needs root and apt-get); the browser and LaTeX tests will skip"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq >/dev/null 2>&1 \
   && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1; then
    echo "system packages: installed ${need[*]}"
else
    echo "system packages: apt-get could not install ${need[*]}; the browser and LaTeX tests will skip"
fi
exit 0
