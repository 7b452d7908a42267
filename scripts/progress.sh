# progress.sh — sourced by the long stages (sanitize.sh, valgrind.sh, fuzz.sh): a heartbeat
# line every CRYO_PROGRESS_SECONDS (default 60) while a long command runs, so that a person
# watching CI knows it is alive and how far it got.
#   heartbeat_start LABEL [STATUS-COMMAND]   prints "LABEL: still running, 120s; <status>"
#   heartbeat_stop
heartbeat_pid=
heartbeat_start() {
    local label=$1 status=${2:-} every=${CRYO_PROGRESS_SECONDS:-60} t0
    t0=$(date +%s)
    heartbeat_stop
    (
        while sleep "$every"; do
            line="$label: still running, $(($(date +%s) - t0))s"
            if [ -n "$status" ]; then
                extra=$(eval "$status" 2>/dev/null || true)
                [ -n "$extra" ] && line="$line; $extra"
            fi
            echo "$line"
        done
    ) &
    heartbeat_pid=$!
    trap heartbeat_stop EXIT
}
heartbeat_stop() {
    if [ -n "$heartbeat_pid" ]; then
        kill "$heartbeat_pid" 2>/dev/null || true
        wait "$heartbeat_pid" 2>/dev/null || true
        heartbeat_pid=
    fi
}
