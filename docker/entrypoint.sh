#!/bin/sh
# Entry point of the launcher image: write the config files for $IONFLOW_DB_URI on first
# start (FireWorks, jobflow, atomate2, ionflow), point the programs at them, run `ionflow`.
set -eu
config_dir=${IONFLOW_CONFIG_DIR:-$HOME/.config/ionflow}
if [ ! -f "$config_dir/my_launchpad.yaml" ]; then
    ionflow config init --dir "$config_dir" --db-uri "$IONFLOW_DB_URI" >/dev/null
fi
export IONFLOW_CONFIG_FILE="$config_dir/ionflow.yaml"
export FW_CONFIG_FILE="$config_dir/FW_config.yaml"
export JOBFLOW_CONFIG_FILE="$config_dir/jobflow.yaml"
export ATOMATE2_CONFIG_FILE="$config_dir/atomate2.yaml"
exec ionflow "$@"
