#!/usr/bin/env bash
# Installs everything embodied needs on a fresh Debian machine: system packages (only the missing
# ones, via apt-get), a virtualenv, and the package with the extras the tests use.
set -euo pipefail
VENV=${1:-.venv}
cd "$(dirname "$0")/.."

# Debian packages the project needs, as "command-or-path:package".
APT_NEEDS=(
)
missing=()
for entry in "${APT_NEEDS[@]}"; do
  probe=${entry%%:*}; pkg=${entry##*:}
  if [[ $probe == /* ]]; then [[ -e $probe ]] || missing+=("$pkg")
  else command -v "$probe" >/dev/null 2>&1 || missing+=("$pkg"); fi
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) == 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[dev,report]"
echo "setup: done ($VENV)"
