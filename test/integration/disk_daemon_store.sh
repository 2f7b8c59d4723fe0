#!/bin/sh
# disk_daemon.sh with the whole data folder full, the metadata store included: the failed run
# cannot be written to the store's run history, and 'datasyncctl status' must still report it.
exec sh "$DS_SRC/test/integration/disk_daemon.sh" all
