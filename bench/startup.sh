#!/usr/bin/env bash
# Start-up benchmark: cached gfw commands against kubectl doing the same API work (bench/README.md).
#
#   bench/startup.sh [--runs N] [--kubeconfig FILE]
#
# Starts the test control plane (tests/cluster.java: etcd, kube-apiserver, controllers and a kwok
# node on loopback ports) unless --kubeconfig names a cluster, then times, in one run:
#   GET   ./jbang scripts/gfw.java version dev          vs  kubectl version          (GET /version)
#   LIST  ./jbang scripts/gfw.java provision-namespaces dev --diff
#                                                       vs  kubectl get <the same 7 kinds> -l <labels>
#         (7 LISTs, after one provision-namespaces run has created the layout; test server only)
#   and, for scale, gfw with no API call and the JVM alone.
# Every command runs twice untimed first (build, AppCDS dump, launcher cache), then N times
# (default 7, or $RUNS), gfw and kubectl interleaved so that both see the same machine load; prints
# each run's wall time, the medians of wall and CPU time (user + sys: less sensitive to other load on
# the machine) and gfw/kubectl. A failing command aborts the run.
# JAVA_HOME selects the JDK for gfw (as for ./jbang), e.g. JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64.
set -euo pipefail

usage() { echo "usage: $0 [--runs N] [--kubeconfig FILE]" >&2; exit 64; }

repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-7} kubeconfig=''
while (($#)); do
  case $1 in
    --runs | -n) (($# >= 2)) || usage; runs=$2; shift 2 ;;
    --runs=*) runs=${1#*=}; shift ;;
    --kubeconfig) (($# >= 2)) || usage; kubeconfig=$2; shift 2 ;;
    --kubeconfig=*) kubeconfig=${1#*=}; shift ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "$0: --runs $runs: want a positive whole number" >&2; exit 64; }
command -v kubectl >/dev/null || { echo "$0: kubectl not found on PATH" >&2; exit 69; }
cd "$repo"
# The warm-up run that finds a script's AppCDS archive missing records it itself, not in the
# background (./jbang), so that the timed runs all map it and no recording competes with them.
export GFW_CDS_BACKGROUND=0
# Same conditions for both: no proxy (gfw would send loopback traffic through HTTPS_PROXY), no KUBECONFIG.
unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy KUBECONFIG GITLAB_CI

work=$(mktemp -d "${TMPDIR:-/tmp}/gfw-bench.XXXXXX")
server_pid=''
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -z $kubeconfig ]]; then
  echo "starting the test control plane (tests/cluster.java; the first start builds it from tests/cluster/)..." >&2
  # Its own JDK 17+ (the default java), whatever JAVA_HOME says for gfw. It prints "ready" once serving.
  (unset JAVA_HOME; exec ./jbang tests/cluster.java --kubeconfig "$work/kubeconfig") \
    >"$work/server.out" 2>"$work/server.err" </dev/null &
  server_pid=$!
  for ((i = 0; i < 7200; i++)); do # up to an hour: the first build compiles Kubernetes
    grep -qx ready "$work/server.out" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { echo "$0: the test control plane exited:" >&2; cat "$work/server.err" >&2; exit 69; }
    sleep 0.5
  done
  grep -qx ready "$work/server.out" || { echo "$0: the test control plane did not start within an hour" >&2; tail "$work/server.err" >&2; exit 69; }
  kubeconfig=$work/kubeconfig
fi
[[ -r $kubeconfig ]] || { echo "$0: kubeconfig $kubeconfig is not readable" >&2; exit 66; }

gfw=(./jbang scripts/gfw.java)
# The labels provision-namespaces selects its objects by (scripts/provision-namespaces.java selector()).
selector=app.kubernetes.io/managed-by=gfw,gfw.gloriousflywheel.dev/environment=dev,gfw.gloriousflywheel.dev/owner=provision-namespaces

run_quiet() { # runs a command, output discarded; on failure shows it and aborts
  local err
  if ! err=$("$@" 2>&1 >/dev/null </dev/null); then
    printf '%s: failed: %s\n%s\n' "$0" "$*" "$err" >&2
    exit 1
  fi
}

ms_of() { # one run: "wall_ms cpu_ms" (cpu = user + sys of the process and its children)
  local TIMEFORMAT='%3R %3U %3S' t
  t=$({ time "$@" >/dev/null 2>&1 </dev/null; } 2>&1) || { echo "$0: failed: $*" >&2; exit 1; }
  awk '{ printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000 }' <<<"$t"
}

sample() { # command...: one run, sets $w (wall ms) and $c (cpu ms); a failure aborts the benchmark
  local r
  r=$(ms_of "$@") || exit 1
  read -r w c <<<"$r"
}

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

results=()
compare() { # label; gfw command...; --; kubectl command... : interleaved runs, one result line
  local label=$1 i w c; shift
  local g=() k=()
  while [[ $1 != -- ]]; do g+=("$1"); shift; done
  shift; k=("$@")
  run_quiet "${g[@]}"; run_quiet "${g[@]}" # warm-up: build, AppCDS dump, launcher cache
  run_quiet "${k[@]}"; run_quiet "${k[@]}" # warm-up: kubectl's discovery cache
  local gw=() gc=() kw=() kc=()
  for ((i = 0; i < runs; i++)); do # alternate who goes first
    if ((i % 2)); then sample "${k[@]}"; kw+=("$w"); kc+=("$c"); sample "${g[@]}"; gw+=("$w"); gc+=("$c")
    else sample "${g[@]}"; gw+=("$w"); gc+=("$c"); sample "${k[@]}"; kw+=("$w"); kc+=("$c"); fi
  done
  local gm km gcm kcm
  gm=$(median "${gw[@]}") km=$(median "${kw[@]}") gcm=$(median "${gc[@]}") kcm=$(median "${kc[@]}")
  printf '%-5s gfw     wall median %5d ms (runs: %s)  cpu median %5d ms\n' "$label" "$gm" "${gw[*]}" "$gcm"
  printf '%-5s kubectl wall median %5d ms (runs: %s)  cpu median %5d ms\n' "$label" "$km" "${kw[*]}" "$kcm"
  results+=("$(awk -v l="$label" -v g="$gm" -v k="$km" -v gc="$gcm" -v kc="$kcm" 'BEGIN {
    printf "%-5s wall: gfw %5d ms  kubectl %4d ms  ratio %5.1fx   cpu: gfw %5d ms  kubectl %4d ms  ratio %5.1fx",
      l, g, k, (k > 0 ? g / k : 0), gc, kc, (kc > 0 ? gc / kc : 0) }')")
}

alone() { # label; command...: N runs after two warm-ups, one result line
  local label=$1 i w c ws=() cs=(); shift
  run_quiet "$@"; run_quiet "$@"
  for ((i = 0; i < runs; i++)); do sample "$@"; ws+=("$w"); cs+=("$c"); done
  printf '%-26s wall median %5d ms (runs: %s)  cpu median %5d ms\n' "$label" "$(median "${ws[@]}")" "${ws[*]}" "$(median "${cs[@]}")"
  results+=("$(printf '%-26s wall %5d ms   cpu %5d ms' "$label" "$(median "${ws[@]}")" "$(median "${cs[@]}")")")
}

java=${JAVA_HOME:+$JAVA_HOME/bin/}java
echo "date $(date -u '+%Y-%m-%d %H:%M UTC'); $("$java" -version 2>&1 | head -1); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); kubectl $(kubectl version --client 2>/dev/null | head -1 | awk '{print $3}'); $runs runs" >&2

compare GET "${gfw[@]}" version dev --kubeconfig "$kubeconfig" -- kubectl --kubeconfig "$kubeconfig" version

if [[ -n $server_pid ]]; then
  run_quiet "${gfw[@]}" provision-namespaces dev --kubeconfig "$kubeconfig" # the layout the LISTs read
  compare LIST "${gfw[@]}" provision-namespaces dev --diff --kubeconfig "$kubeconfig" -- \
    kubectl --kubeconfig "$kubeconfig" get namespaces,resourcequotas,limitranges,networkpolicies,roles,rolebindings,serviceaccounts -A -l "$selector"
fi

alone "gfw version (no API call)" "${gfw[@]}" version
alone "java -version (JVM alone)" "$java" -Xshare:auto -version

echo
printf '%s\n' "${results[@]}"
