#!/bin/sh
# The dir remote on a real FAT file system: a 32 MiB image made with mkfs.vfat and loop-mounted
# (needs root, the vfat module and a loop device: skipped with the reason otherwise). Same
# scenario as dir_fat.sh, without any shim: link() fails by itself there.
set -u
W=${DS_TMP:?}
SHARED="$W/mnt/datasync"
command -v mkfs.vfat >/dev/null 2>&1 || { echo "skip: mkfs.vfat not installed (dosfstools)"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "skip: mounting a FAT image needs root"; exit 77; }
truncate -s 32M "$W/fat.img" && mkfs.vfat "$W/fat.img" >/dev/null || { echo "skip: mkfs.vfat failed"; exit 77; }
mkdir -p "$W/mnt"
if ! err=$(mount -t vfat -o loop "$W/fat.img" "$W/mnt" 2>&1); then
	echo "skip: cannot mount a FAT image here: $(echo "$err" | head -n 1)"
	exit 77
fi
trap 'umount "$W/mnt" 2>/dev/null' EXIT
mkdir -p "$SHARED"
RUN_PREFIX="env"
# Without the shim nobody kills the writer; that step needs the shim and is left to dir_fat.sh.
DS_FAT_NO_KILL=1
. "${DS_SRC:?}/test/integration/dir_fat_common.inc"
fat_scenario
