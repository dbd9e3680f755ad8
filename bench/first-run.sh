#!/usr/bin/env bash
# First-run benchmark: what a new user with empty caches waits for (bench/README.md, "First run").
#
#   bench/first-run.sh [--user NAME] [--branch BRANCH] [-- COMMAND ARGS...]
#
# Run as root. Uses the Unix user NAME (default gfwfirst; created with useradd -m when missing),
# empties its ~/.m2, ~/.jbang, ~/.cache and ~/first-run, clones this repository's BRANCH (default:
# the checked-out one; committed work only) into ~/first-run/gfw, and then, as that user, with
# HOME, PATH=/usr/local/go/bin:/usr/bin:/bin and nothing else from root's environment:
#   1. runs COMMAND (default: ./jbang scripts/gfw.java provision-namespaces dev --dry-run=client)
#      from the clone: the first run — JBang fetched, dependencies resolved, the script built;
#   2. runs it again at once (the AppCDS archive may still be recording in the background);
#   3. waits until no process of the user is left (the background recording), then runs it a third
#      time (warm, with the archive).
# For each run: wall time, CPU time (user + sys of the command and the children it waited for: the
# background recording, which nobody waits for, is not in it), exit code, and whether JBang built
# ("Building jar" on stderr). Also the time to the first byte of output and how long the background recording took.
# Every run's output is compared with the first's: same input, same output.
set -euo pipefail

usage() { echo "usage: $0 [--user NAME] [--branch BRANCH] [-- COMMAND ARGS...]" >&2; exit 64; }
user=gfwfirst branch=''
repo=$(cd "$(dirname "$0")/.." && pwd)
while (($#)); do
  case $1 in
    --user) (($# >= 2)) || usage; user=$2; shift 2 ;;
    --branch) (($# >= 2)) || usage; branch=$2; shift 2 ;;
    --) shift; break ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage ;;
  esac
done
cmd=("$@")
((${#cmd[@]})) || cmd=(./jbang scripts/gfw.java provision-namespaces dev --dry-run=client)
[[ $(id -u) == 0 ]] || { echo "$0: run as root (it creates and empties a user's caches)" >&2; exit 77; }
[[ $user =~ ^[a-z_][a-z0-9_-]*$ && $user != root ]] || { echo "$0: --user $user: want a plain user name, not root" >&2; exit 64; }
[[ -n $branch ]] || branch=$(git -C "$repo" rev-parse --abbrev-ref HEAD)
id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
home=$(getent passwd "$user" | cut -d: -f6)
[[ -d $home ]] || { echo "$0: $user has no home directory $home" >&2; exit 66; }

# Nothing of this user may run while its caches are emptied (a recording from an earlier run).
wait_user_idle() { while pgrep -u "$user" >/dev/null; do sleep 0.5; done; }
wait_user_idle
rm -rf "$home/.m2" "$home/.jbang" "$home/.cache" "$home/first-run"
as_user() { runuser -u "$user" -- env -i HOME="$home" USER="$user" LANG=C.UTF-8 PATH=/usr/local/go/bin:/usr/bin:/bin "$@"; }
as_user mkdir -p "$home/first-run"
git clone -q --branch "$branch" "file://$repo" "$home/first-run/gfw" # as root (git refuses another owner's repository), then handed over
chown -R "$user:" "$home/first-run/gfw"
commit=$(git -C "$repo" rev-parse --short "$branch")

out=$home/first-run/out
as_user mkdir -p "$out"
# One run as the user: wall ms, cpu ms, first-output ms, exit code. stdout/stderr to $out/N.{out,err}.
run() {
  local n=$1
  as_user bash -c '
    cd "$HOME/first-run/gfw"
    n=$1; shift
    start=$(date +%s%N)
    ( "$@" ) >"'"$out"'/$n.out" 2>"'"$out"'/$n.err" </dev/null & pid=$!
    first=""
    while kill -0 $pid 2>/dev/null; do
      [[ -z $first && ( -s "'"$out"'/$n.out" ) ]] && first=$(date +%s%N)
      sleep 0.05
    done
    wait $pid && rc=0 || rc=$?
    end=$(date +%s%N)
    [[ -n $first ]] || first=$end
    read -r _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ cu cs _ < /proc/$$/stat # cutime cstime: waited-for children
    echo "$(( (end - start) / 1000000 )) $(( (cu + cs) * 1000 / $(getconf CLK_TCK) )) $(( (first - start) / 1000000 )) $rc"
  ' run "$n" "${cmd[@]}"
}

echo "date $(date -u '+%Y-%m-%d %H:%M UTC'); user $user; clone of $branch at $commit; $(java -version 2>&1 | head -1); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "command: ${cmd[*]}" >&2
rows=()
for n in 1 2 wait 3; do
  if [[ $n == wait ]]; then
    t0=$(date +%s%N); wait_user_idle; t1=$(date +%s%N)
    rows+=("$(printf '| background AppCDS recording still running after run 2 | %d ms more |' $(((t1 - t0) / 1000000)))")
    continue
  fi
  read -r wall cpu first rc < <(run "$n")
  built=no; grep -q 'Building jar' "$out/$n.err" && built=yes
  same=''; [[ $n == 1 ]] || { cmp -s "$out/1.out" "$out/$n.out" && same=', same output' || same=', OUTPUT DIFFERS'; }
  printf 'run %s: wall %6d ms  first output %6d ms  cpu %6d ms  exit %d  built: %s%s\n' "$n" "$wall" "$first" "$cpu" "$rc" "$built" "$same" >&2
  rows+=("$(printf '| run %s | %d | %d | %d | %d | %s |' "$n" "$wall" "$first" "$cpu" "$rc" "$built")")
done
echo >&2
echo "| run | wall (ms) | first output (ms) | CPU (ms) | exit | JBang built |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo "stderr of run 1:" >&2
sed 's/^/  /' "$out/1.err" >&2
