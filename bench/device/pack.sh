#!/usr/bin/env bash
# Builds the device kit's pack: what bench/device/run.sh needs on a machine with no npm install and no internet.
#   .device-pack/kit.mjs                        the kit (bench/device/kit.ts) bundled into one file by esbuild
#   .device-pack/node_modules/webgpu/           the `webgpu` package's index.js (the kit imports it by name), with
#                                               dist/linux-x64/dawn.node beside it (dawn.node.xz in a device pack)
#   .device-pack/node.xz                        this machine's Node 20 binary (device pack only)
#   .device-pack/debs/libvulkan1_*.deb          the Vulkan loader, for a machine without one (device pack only)
# The folder is git-ignored: copy it along with the checkout to the GPU machine (pack and tree together stay under 64 MiB).
#
#   bench/device/pack.sh            a device pack in .device-pack/ (~30 MB; xz takes a minute)
#   bench/device/pack.sh --local    a pack for `run.sh --local`: no Node binary, dawn.node uncompressed, no .debs
# KIT_PACK=DIR packs elsewhere.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
pack="${KIT_PACK:-$root/.device-pack}"
mode=device
case "${1:-}" in
  --local) mode=local ;;
  "") ;;
  *) echo "usage: bench/device/pack.sh [--local]" >&2; exit 2 ;;
esac
[ "$(uname -m)" = x86_64 ] || { echo "pack.sh: the device is x86-64; pack on an x86-64 machine (this is $(uname -m))" >&2; exit 1; }
dawn="$root/node_modules/webgpu/dist/linux-x64/dawn.node"
[ -f "$dawn" ] || { echo "pack.sh: $dawn is missing: npm install (the webgpu package is an optional dependency)" >&2; exit 1; }

rm -rf "$pack"
mkdir -p "$pack/node_modules/webgpu/dist/linux-x64"
# ESM bundle; the banner gives bundled CommonJS code a `require` (tfjs and the tokenizer use one).
"$root/node_modules/.bin/esbuild" "$root/bench/device/kit.ts" --bundle --platform=node --format=esm --target=node20 \
  --outfile="$pack/kit.mjs" --log-level=warning \
  --banner:js="import { createRequire as __kitRequire } from 'node:module'; const require = __kitRequire(import.meta.url);"
cp "$root/node_modules/webgpu/index.js" "$root/node_modules/webgpu/package.json" "$pack/node_modules/webgpu/"

if [ "$mode" = local ]; then
  cp "$dawn" "$pack/node_modules/webgpu/dist/linux-x64/dawn.node"
else
  node_bin="$(command -v node)"
  case "$(node --version)" in v20.*) ;; *) echo "pack.sh: node $(node --version) here; the kit is built and tested on Node 20" >&2; exit 1 ;; esac
  xz -6 -T0 -c "$dawn" >"$pack/dawn.node.xz"
  xz -6 -T0 -c "$node_bin" >"$pack/node.xz"
  mkdir -p "$pack/debs"
  if ! (cd "$pack/debs" && apt-get download libvulkan1 >/dev/null 2>&1); then
    # No package lists or no network: the loader library of this machine does the same job.
    rm -f "$pack/debs"/*
    mkdir -p "$pack/lib"
    cp -L /usr/lib/x86_64-linux-gnu/libvulkan.so.1 "$pack/lib/" 2>/dev/null \
      || echo "pack.sh: warning: no Vulkan loader packed (apt-get download libvulkan1 failed and none is installed here)" >&2
  fi
fi
bytes=$(du -sb "$pack" | cut -f1)
echo "pack.sh: $mode pack in $pack: $((bytes / 1024 / 1024)) MiB"
if [ "$mode" = device ] && [ "$bytes" -gt $((58 * 1024 * 1024)) ]; then
  echo "pack.sh: the pack is over 58 MiB: with the working tree it would not fit the 64 MiB budget of what travels" >&2
  exit 1
fi
