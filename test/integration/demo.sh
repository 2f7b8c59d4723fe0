#!/bin/sh
# The README's main job, as a test: two devices converge through a shared folder.
set -eu
cp -r "$DS_BUILD/datasyncd" "$DS_BUILD/datasyncctl" "$DS_TMP/"
DS_DEMO_NO_BUILD=1 sh "$DS_SRC/test/tools/run-demo.sh" "$DS_TMP"
