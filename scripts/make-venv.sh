#!/usr/bin/env bash
# Create the project's virtualenv. On a bare Debian, python3.11 may lack venv/ensurepip: install it.
set -euo pipefail
python=${1:-python3.11}
venv=${2:-.venv}
if ! command -v "$python" >/dev/null; then
  echo "Carreau needs $python (Debian: apt-get install python3.11 python3.11-venv)" >&2
  exit 1
fi
if ! "$python" -m venv "$venv" 2>/dev/null; then
  rm -rf "$venv"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "Installing Debian's python3-venv (needed to create $venv)..."
  $sudo apt-get update -qq && $sudo apt-get install -y -qq python3-venv python3.11-venv || \
    $sudo apt-get install -y -qq python3-venv
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade "pip>=23.2"
