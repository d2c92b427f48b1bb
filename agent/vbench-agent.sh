# vbench agent, protocol v1, in POSIX sh (busybox sh, dash, bash): the process end of vbench's
# persistent channel into the client container. vbench copies this file into the container
# and keeps ONE exec of it open for the whole run, instead of an exec and an archive copy per
# sweep point. Each request runs one command as a new process (the process mode; the Python
# worker, agent/vbench_worker.py, speaks the same protocol and runs points in-process).
#
# Host -> agent, on stdin, one frame per line:
#   RUN <id> | A <arg> | E <KEY=VALUE> | R <path> | GO | QUIT
# Every A/E/R value is escaped: any byte outside [A-Za-z0-9_./:=,+@%-] is written \0ooo (three
# octal digits), which `printf %b` decodes. The argv is built from these values one by one
# ("$@"), never through a shell string, so nothing the host sends is interpreted by a shell.
# E frames must come before A frames (both go into "$@"). The command gets them by `export`,
# never on a command line: `env K=V command` would show K=V (an API key) in the container's
# process list while env runs. Only a name the shell cannot export (`A.B`) goes through env.
# E VBENCH_PIDFILE=<path> also makes the agent write the command's pid there, so vbench can
# stop or find it with a second exec (the command leads its own process group).
#
# Agent -> host, on stdout (binary-safe):
#   HELLO vbench-agent 1 sh            once, at start
#   S <id> <pid>                       the command started
#   L <id> <text>                      one console line (stdout and stderr merged)
#   X <id> <code>                      it exited (128+N when killed by signal N)
#   F <id> <size>\n<bytes>\n           the R file's exact bytes
#   N <id>                             R was given and no such file exists
#   D <id>                             the request is complete
#   ERR <id> <text>                    a malformed request (then D <id>)

exec 3>&1
tmp=${TMPDIR:-/tmp}/vbench-agent.$$
mkdir -p "$tmp" || exit 3
trap 'rm -rf "$tmp"' EXIT
printf 'HELLO vbench-agent 1 sh\n'

# Decode an escaped value into $v (the x guards trailing newlines from $(...) stripping).
# Most values have no escape: they are taken as they are, since a command substitution forks
# (~0.6 ms each, for ~40 arguments a point).
dec() {
  case $1 in
    *\\*) v=$(printf '%bx' "$1"); v=${v%x} ;;
    *) v=$1 ;;
  esac
}

# (`set --` must run at the top level: inside a function it would clear only the
# function's own arguments.)
reset() { id=; res=; pidfile=; bad=; ne=0; na=0; }
reset

run() {
  # Emptied, not removed: `:` is a builtin, `rm` a process (the agent forks as little as it
  # can: every fork is paid on every point).
  : > "$tmp/rc"
  (
    # The first $ne arguments are K=V: export them (a name sh cannot export is rotated to
    # the end with the command's own arguments, in order, for env).
    i=0; n=$#; viaenv=
    while [ "$i" -lt "$n" ]; do
      if [ "$i" -lt "$ne" ]; then
        case ${1%%=*} in
          ''|[0-9]*|*[!A-Za-z0-9_]*) set -- "$@" "$1"; viaenv=1 ;;
          *) export "$1" ;;
        esac
      else
        set -- "$@" "$1"
      fi
      shift; i=$((i+1))
    done
    # setsid: the command leads a new process group, so stopping it stops its children.
    # It must not hold fd 3 (the channel): a crashed agent must end the stream at once.
    # `env` only when a name could not be exported (one exec less otherwise).
    if [ -n "$viaenv" ]; then
      setsid env "$@" </dev/null 2>&1 3>&- &
    else
      setsid "$@" </dev/null 2>&1 3>&- &
    fi
    pid=$!
    printf 'S %s %s\n' "$id" "$pid" >&3
    [ -n "$pidfile" ] && echo "$pid" > "$pidfile"
    wait "$pid"
    echo $? > "$tmp/rc"
    [ -n "$pidfile" ] && rm -f "$pidfile"
  ) | while IFS= read -r l || [ -n "$l" ]; do
    printf 'L %s %s\n' "$id" "$l"
  done
  rc=; read -r rc < "$tmp/rc" 2>/dev/null
  printf 'X %s %s\n' "$id" "${rc:-127}"
  if [ -n "$res" ]; then
    if [ -f "$res" ]; then
      n=$(wc -c < "$res"); n=${n##* }
      printf 'F %s %s\n' "$id" "$n"
      cat "$res"
      printf '\n'
    else
      printf 'N %s\n' "$id"
    fi
  fi
}

while IFS= read -r line; do
  case $line in
    "RUN "*)
      reset
      set --
      id=${line#RUN }
      case $id in ''|*[!0-9]*) bad="bad request id"; id=0 ;; esac
      ;;
    "A "*)
      dec "${line#A }"; set -- "$@" "$v"; na=$((na+1)) ;;
    "E "*)
      dec "${line#E }"
      case $v in
        *=*) [ "$na" -gt 0 ] && bad="E after A"
             set -- "$@" "$v"; ne=$((ne+1))
             case $v in VBENCH_PIDFILE=*) pidfile=${v#VBENCH_PIDFILE=} ;; esac ;;
        *) bad="E without =" ;;
      esac
      ;;
    "R "*)
      dec "${line#R }"; res=$v ;;
    GO)
      if [ -z "$id" ]; then
        printf 'ERR 0 GO without RUN\nD 0\n'
      elif [ -n "$bad" ]; then
        printf 'ERR %s %s\nD %s\n' "$id" "$bad" "$id"
      elif [ $# -eq 0 ]; then
        printf 'ERR %s empty argv\nD %s\n' "$id" "$id"
      else
        run "$@"
        printf 'D %s\n' "$id"
      fi
      reset
      set --
      ;;
    QUIT)
      exit 0 ;;
    *)
      printf 'ERR 0 unknown frame\nD 0\n' ;;
  esac
done
exit 0
