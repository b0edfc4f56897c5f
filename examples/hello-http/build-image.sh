#!/usr/bin/env bash
# Builds the hello-http image offline: a rootfs holding Debian's busybox-static (its httpd serves
# the page) imported with `docker import`, so nothing is pulled from a registry.
#   apt-get install -y docker.io busybox-static      # once
#   examples/hello-http/build-image.sh [IMAGE]       # default hello-http:1; honours $DOCKER_HOST
set -euo pipefail
image="${1:-hello-http:1}"
busybox="$(command -v busybox || true)"
if [ -z "$busybox" ] || ! file -L "$busybox" 2>/dev/null | grep -q "statically linked"; then
  busybox=/bin/busybox
fi
[ -x "$busybox" ] || { echo "error: busybox-static is needed: apt-get install -y busybox-static" >&2; exit 1; }
here="$(cd "$(dirname "$0")" && pwd)"
rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs/bin" "$rootfs/www" "$rootfs/tmp"
cp "$busybox" "$rootfs/bin/busybox"
for applet in sh httpd echo cat sleep env ls; do ln -s busybox "$rootfs/bin/$applet"; done
cp "$here/www/index.html" "$rootfs/www/index.html"
echo ok > "$rootfs/www/healthz"
tar -C "$rootfs" -c . | docker import - "$image" >/dev/null
echo "built $image"
