#!/usr/bin/env bash
# Set up Fast Style Transfer on this machine.
#
#   bash setup.sh                  Python environment (.venv) with requirements.txt: enough to
#                                  stylize images and videos with the models in examples/models
#   bash setup.sh --dev            ... plus what the tests need (requirements-dev.txt)
#   bash setup.sh --openvino       ... plus OpenVINO, the faster engine for CPUs without AMX
#   bash setup.sh --app            ... plus Gradio, for the web app (python app.py)
#   bash setup.sh --vgg            VGG19 loss network weights for training (MatConvNet .mat, 510 MB)
#   bash setup.sh --vgg-keras      ... or the Keras VGG19 weights (.h5, 80 MB)
#   bash setup.sh --vgg16          ... or the Keras VGG16 weights (.h5, 58 MB), Johnson et al.'s network
#   bash setup.sh --coco           COCO 2014 training images (13 GB), the original's training set
#   bash setup.sh --styles         the original's other two published styles (la_muse, rain_princess)
#   bash setup.sh --all            all of the above
#   --no-install                   skip the Python environment (downloads only)
#
# Every download is checked (checksum, or the loader's own validation where the publisher gives
# no checksum) before it is moved into place, and is skipped when already there. Offline, it
# says what it could not fetch and still sets up everything that needs no download. Running it
# twice is harmless.
set -uo pipefail
cd "$(dirname "$0")"

DATA=${FST_DATA_DIR:-data}  # where downloads go
VGG_MAT_URL=https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-19.mat
VGG_H5_URL=https://storage.googleapis.com/tensorflow/keras-applications/vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5
VGG_H5_MD5=253f8cb515780f3b799900260a226db6  # as keras.applications.VGG19 checks it
VGG16_H5_URL=https://storage.googleapis.com/tensorflow/keras-applications/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5
VGG16_H5_MD5=6d6bbae143d832006294945121d1f1fc  # as keras.applications.VGG16 checks it
COCO_URL=http://images.cocodataset.org/zips/train2014.zip
COCO_MD5=0da8c0bd3d6becc4dcb32757491aca88
STYLES_FOLDER=https://drive.google.com/drive/folders/0B9jhaT37ydSyRk9UX0wwX3BpMzQ
LA_MUSE_SHA256=5d6a7cf0e2e1e9e692259919c9d5d5937a4f3526e59af732c5948894bed79afe
RAIN_PRINCESS_SHA256=5f5b84c7225f2060b21023fcf2328bf0b6c4af1d1fd85cb18626fee2043f25eb

install=1 dev=0 app=0 openvino=0 vgg=0 vgg_keras=0 vgg16=0 coco=0 styles=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    --openvino) openvino=1 ;;
    --app) app=1 ;;
    --vgg) vgg=1 ;;
    --vgg-keras) vgg_keras=1 ;;
    --vgg16) vgg16=1 ;;
    --coco) coco=1 ;;
    --styles) styles=1 ;;
    --all) vgg=1 vgg_keras=1 vgg16=1 coco=1 styles=1 ;;
    --no-install) install=0 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option $arg (see bash setup.sh --help)" >&2; exit 2 ;;
  esac
done

missed=()
say() { echo "setup: $*"; }

# --- Python environment -----------------------------------------------------------------------
if [ -n "${VIRTUAL_ENV:-}" ]; then
  PY="$VIRTUAL_ENV/bin/python"
else
  PY=.venv/bin/python
fi
if [ "$install" = 1 ]; then
  if [ ! -x "$PY" ]; then
    say "creating .venv"
    "${PYTHON:-python3}" -m venv .venv || { echo "setup: cannot create .venv with ${PYTHON:-python3}" >&2; exit 1; }
  fi
  requirements=requirements.txt
  [ "$dev" = 1 ] && requirements=requirements-dev.txt
  say "installing $requirements"
  if ! "$PY" -m pip install -q --disable-pip-version-check -r "$requirements"; then
    echo "setup: pip install failed" >&2
    free_mb=$(df -Pm . | awk 'NR == 2 {print $4}')
    [ "${free_mb:-0}" -lt 6000 ] && echo "setup: only $free_mb MB free on this disk; with --dev the environment takes about 4 GB" >&2
    exit 1
  fi
  if [ "$openvino" = 1 ]; then
    say "installing OpenVINO (--engine openvino)"
    "$PY" -m pip install -q --disable-pip-version-check -r requirements-openvino.txt \
      || missed+=("OpenVINO (evaluate.py and transform_video.py run on TensorFlow)")
  fi
  if [ "$app" = 1 ]; then
    say "installing Gradio (python app.py)"
    "$PY" -m pip install -q --disable-pip-version-check -r requirements-app.txt \
      || missed+=("Gradio (app.py cannot start; evaluate.py and the other scripts work)")
  fi
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    say "NVIDIA GPU found: installing TensorFlow's CUDA libraries"
    "$PY" -m pip install -q --disable-pip-version-check "tensorflow[and-cuda]>=2.16,<3" \
      || missed+=("tensorflow[and-cuda] (training and stylizing will run on the CPU)")
  fi
fi

# --- Downloads ----------------------------------------------------------------------------------
# fetch URL FILE: download to FILE.part, then move into place; returns non-zero when offline.
fetch() {
  local url=$1 file=$2
  mkdir -p "$(dirname "$file")"
  say "downloading $url"
  if command -v curl >/dev/null 2>&1; then
    local progress=-sS
    [ -t 2 ] && progress=--progress-bar
    curl -fL $progress --retry 2 --connect-timeout 15 -C - -o "$file.part" "$url"
  else
    wget -q --tries=2 --timeout=15 -c -O "$file.part" "$url"
  fi
}

md5_ok() { [ "$(md5sum "$1" | cut -d' ' -f1)" = "$2" ]; }
sha256_ok() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# download_checked NAME URL FILE CHECK...: skip when FILE passes CHECK, else fetch and check.
download_checked() {
  local name=$1 url=$2 file=$3
  shift 3
  if [ -f "$file" ] && "$@" "$file"; then
    say "$name: $file already there"
    return 0
  fi
  if ! fetch "$url" "$file"; then
    # A partial download stays for the next run to resume (-C -); an empty one goes.
    [ -s "$file.part" ] || rm -f "$file.part"
    missed+=("$name ($url)")
    return 1
  fi
  if ! "$@" "$file.part"; then
    rm -f "$file.part"
    missed+=("$name: the download failed its check and was deleted")
    return 1
  fi
  mv "$file.part" "$file"
  say "$name: $file ready"
}

vgg_loads() { "$PY" -c "import sys; from src.training.vgg import load_vgg_weights; load_vgg_weights(sys.argv[1])" "$1" >/dev/null 2>&1; }
vgg_h5_ok() { md5_ok "$1" "$VGG_H5_MD5"; }
vgg16_h5_ok() { md5_ok "$1" "$VGG16_H5_MD5"; }
coco_ok() { md5_ok "$1" "$COCO_MD5"; }

if [ "$vgg" = 1 ]; then
  # MatConvNet publishes no checksum for this file: the project's loader checks every layer
  # name and shape in it instead.
  download_checked "VGG19 (MatConvNet)" "$VGG_MAT_URL" "$DATA/imagenet-vgg-verydeep-19.mat" vgg_loads
fi
if [ "$vgg_keras" = 1 ]; then
  download_checked "VGG19 (Keras)" "$VGG_H5_URL" "$DATA/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5" vgg_h5_ok
fi
if [ "$vgg16" = 1 ]; then
  download_checked "VGG16 (Keras)" "$VGG16_H5_URL" "$DATA/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" vgg16_h5_ok
fi
if [ "$coco" = 1 ]; then
  if [ -d "$DATA/train2014" ] && [ -n "$(ls -A "$DATA/train2014" 2>/dev/null)" ]; then
    say "COCO 2014: $DATA/train2014 already there"
  elif download_checked "COCO 2014 train" "$COCO_URL" "$DATA/train2014.zip" coco_ok; then
    say "unpacking $DATA/train2014.zip"
    if "$PY" -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$DATA/train2014.zip" "$DATA"; then
      rm -f "$DATA/train2014.zip"
    else
      missed+=("COCO 2014: unpacking $DATA/train2014.zip failed")
    fi
  fi
fi
if [ "$styles" = 1 ]; then
  # The original's published models live in a Google Drive folder; gdown fetches folders.
  dir="$DATA/original-checkpoints"
  need=0
  for style in la_muse rain_princess; do [ -f "examples/models/$style.keras" ] || need=1; done
  if [ "$need" = 0 ]; then
    say "styles: examples/models/la_muse.keras and rain_princess.keras already there"
  elif "$PY" -m pip install -q --disable-pip-version-check gdown >/dev/null 2>&1 \
      && "$PY" -m gdown --folder --quiet "$STYLES_FOLDER" -O "$dir"; then
    for pair in "la_muse:$LA_MUSE_SHA256" "rain_princess:$RAIN_PRINCESS_SHA256"; do
      style=${pair%%:*} sum=${pair#*:}
      file=$(find "$dir" -name "$style.ckpt" | head -n 1)
      if [ -n "$file" ] && sha256_ok "$file" "$sum"; then
        "$PY" export.py --checkpoint "$file" --format keras --name "$style" --out-path "examples/models/$style.keras" \
          || missed+=("$style: conversion failed")
      else
        missed+=("$style: not in the downloaded folder, or its checksum differs")
      fi
    done
  else
    missed+=("the original's la_muse and rain_princess models ($STYLES_FOLDER)")
  fi
fi

if [ "${#missed[@]}" -gt 0 ]; then
  say "could not fetch (offline?); everything else is ready:"
  for item in "${missed[@]}"; do echo "  - $item"; done
fi
say "done"
exit 0
