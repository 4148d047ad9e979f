#!/usr/bin/env bash
# Nightly onboarding run for cron or a Kubernetes CronJob. It relies on batchavatars' exit codes:
# 0 all done; 4 work left waiting (training or consent) — the next night continues, so not an alert;
# 1 items failed; 2 manifest/usage/ledger error; 3 key rejected; 130 interrupted.
set -u
manifest=${1:?usage: nightly.sh MANIFEST}
state=${BATCHAVATARS_STATE:-$(dirname "$manifest")}
ledger=${BATCHAVATARS_LEDGER:-$state/$(basename "${manifest%.*}").ledger.db}
summary=$state/last-run.json

batchavatars run "$manifest" --ledger "$ledger" --wait-timeout "${WAIT_TIMEOUT:-3000}" \
    --log-format json --no-progress --json-summary "$summary"
code=$?
case $code in
  0)   echo "batchavatars: every avatar ready" >&2 ;;
  4)   echo "batchavatars: work left waiting; the next run continues" >&2; code=0 ;;
  1)   echo "batchavatars: some items failed, see $summary" >&2 ;;
  2)   echo "batchavatars: manifest, usage or ledger error" >&2 ;;
  3)   echo "batchavatars: API key rejected or not permitted" >&2 ;;
  130) echo "batchavatars: interrupted; the ledger is consistent, the next run resumes" >&2 ;;
esac
exit "$code"
