#!/bin/sh
# disk_full.sh with a read-only data folder, app database and shared folder (EROFS).
exec sh "$DS_SRC/test/integration/disk_full.sh" EROFS
