#!/usr/bin/env bash
# Installs the real data sets deepgrad's examples, recipes and tests use, from Debian's
# packages (see DATA.md): Fashion-MNIST and the English word list. Safe to run twice.
# Without root or apt, it says what to do instead; the loaders also look in $DEEPGRAD_DATA
# and ~/.cache/deepgrad, and download from the official source where the internet is reachable.
set -u
pkgs="dataset-fashion-mnist wamerican"
pkgs="$pkgs wordnet-base dict-gcide"  # WordNet and GCIDE: word vectors and gloss classification (deepgrad.text)
pkgs="$pkgs espeak-ng"  # speech synthesis: the spoken words of trigger-word detection (deepgrad.audio)
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -z "$missing" ]; then echo "data: all present ($pkgs)"; exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "data: apt-get not found; get Fashion-MNIST's four IDX .gz files into \$DEEPGRAD_DATA/fashion-mnist" >&2; exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else echo "data: need root to install:$missing" >&2; exit 1; fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq && $SUDO apt-get install -y -qq $missing >/dev/null
echo "data: installed$missing"
