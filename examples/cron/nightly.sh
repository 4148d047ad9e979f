#!/usr/bin/env bash
# Nightly onboarding run for cron or a Kubernetes CronJob. Every line it writes, and every line the
# run writes, is one JSON object (append both streams to a .jsonl file). It relies on batchavatars'
# exit codes: 0 all done; 4 work left waiting (training or consent) — the next night continues, so
# not an alert; 1 items failed; 2 manifest/usage/ledger error; 3 key rejected; 6 the API could not be
# reached (HeyGen down, or a wrong base URL); 130 interrupted.
#
# SIGTERM/SIGINT (a stopped pod, `timeout`, Ctrl-C) are passed on to the run, which lets requests in
# flight finish, records them and exits 130; this script waits for it, so no run is left behind
# holding the ledger. (As PID 1 in a container, bash would otherwise ignore SIGTERM.)
set -u
manifest=${1:?usage: nightly.sh MANIFEST}
state=${BATCHAVATARS_STATE:-$(dirname "$manifest")}
ledger=${BATCHAVATARS_LEDGER:-$state/$(basename "${manifest%.*}").ledger.db}
summary=$state/last-run.json

json_string() {  # a shell string as a JSON string (backslashes, quotes and control characters escaped)
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  printf '"%s"' "${s//$'\r'/\\r}"
}

say() {  # say LEVEL EXIT_CODE MESSAGE: one JSON line on stderr, like the run's own logs
  printf '{"timestamp": "%s", "level": "%s", "event": "nightly", "exit_code": %s, "message": %s, "summary": %s}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$1" "$2" "$(json_string "$3")" "$(json_string "$summary")" >&2
}

batchavatars run "$manifest" --ledger "$ledger" --wait-timeout "${WAIT_TIMEOUT:-3000}" \
    --log-format json --no-progress --json-summary "$summary" &
run=$!
trap 'kill -TERM "$run" 2>/dev/null' TERM INT
wait "$run"
code=$?
# `wait` returns early (128 + signal) when a trapped signal arrives: wait on until the run has ended.
while kill -0 "$run" 2>/dev/null; do
  wait "$run"
  code=$?
done
trap - TERM INT

case $code in
  0)   say info 0 "batchavatars: every avatar ready" ;;
  4)   say info 4 "batchavatars: work left waiting; the next run continues"; code=0 ;;
  1)   say error 1 "batchavatars: some items failed, see the summary" ;;
  2)   say error 2 "batchavatars: manifest, usage or ledger error" ;;
  3)   say error 3 "batchavatars: API key rejected or not permitted" ;;
  6)   say error 6 "batchavatars: the API could not be reached; nothing was sent" ;;
  130) say warning 130 "batchavatars: interrupted; the ledger is consistent, the next run resumes" ;;
  *)   say error "$code" "batchavatars: ended with exit code $code" ;;
esac
exit "$code"
