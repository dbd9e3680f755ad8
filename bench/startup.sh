#!/usr/bin/env bash
# Start-up benchmark: a gfw command against `kubectl --kubeconfig FILE get namespaces`.
#
#   bench/startup.sh --kubeconfig FILE [--runs N] -- <gfw command...>
#   e.g. bench/startup.sh --kubeconfig /tmp/kc -- ./jbang scripts/gfw.java namespaces list --kubeconfig /tmp/kc
#
# Each command runs once untimed (warm-up: builds, caches), then N times (default 7, or $RUNS);
# prints every wall time, the medians and gfw/kubectl. Output of the commands is discarded; a
# failing warm-up aborts, so an error path is never measured by mistake.
set -euo pipefail

usage() { echo "usage: $0 --kubeconfig FILE [--runs N] -- <gfw command...>" >&2; exit 2; }

kubeconfig='' runs=${RUNS:-7}
while (($#)); do
  case $1 in
    --kubeconfig) (($# >= 2)) || usage; kubeconfig=$2; shift 2 ;;
    --kubeconfig=*) kubeconfig=${1#*=}; shift ;;
    --runs|-n) (($# >= 2)) || usage; runs=$2; shift 2 ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
(($#)) || usage
[[ -n $kubeconfig ]] || usage
[[ -r $kubeconfig ]] || { echo "$0: --kubeconfig $kubeconfig: not a readable file" >&2; exit 2; }
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "$0: --runs $runs: want a positive whole number" >&2; exit 2; }
command -v kubectl >/dev/null || { echo "$0: kubectl not found on PATH" >&2; exit 2; }

kubectl_cmd=(kubectl --kubeconfig "$kubeconfig" get namespaces)
gfw_cmd=("$@")

ms_of() { # wall time of one run in ms; the command's output is discarded
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1 </dev/null || { echo "$0: failed (exit $?): $*" >&2; exit 1; }
  end=$(date +%s%N)
  echo $(((end - start) / 1000000))
}

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

bench() { # label, command...: prints the runs, sets $med
  local label=$1 t times=()
  shift
  local err
  if ! err=$("$@" 2>&1 >/dev/null </dev/null); then
    printf '%s: warm-up of %s failed: %s\n%s\n' "$0" "$label" "$*" "$err" >&2
    exit 1
  fi
  for ((i = 0; i < runs; i++)); do
    t=$(ms_of "$@")
    times+=("$t")
  done
  med=$(median "${times[@]}")
  printf '%-8s median %6d ms   runs: %s   (%s)\n' "$label" "$med" "${times[*]}" "$*"
}

bench kubectl "${kubectl_cmd[@]}"; kubectl_ms=$med
bench gfw "${gfw_cmd[@]}"; gfw_ms=$med
awk -v g="$gfw_ms" -v k="$kubectl_ms" 'BEGIN { printf "ratio    gfw/kubectl = %.1fx\n", (k > 0 ? g / k : 0) }'
