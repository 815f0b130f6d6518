# Sourced by the bench scripts. wait_http PID URL LOG [CURL ARGS...]: waits until URL answers (curl -f,
# 2 s per try) while process PID lives, at most WAIT_SECONDS (default 60). Returns 1 after saying why
# (the process exited, or no answer in time), with the port's URL, the log file and its last lines.
wait_http() {
  local pid=$1 url=$2 log=$3; shift 3
  local deadline=$((SECONDS + ${WAIT_SECONDS:-60}))
  while ((SECONDS < deadline)); do
    curl -fs -m 2 "$@" "$url" >/dev/null 2>&1 && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "error: the server (pid $pid) exited before $url answered; its log: $log" >&2
      tail -n 20 "$log" >&2 || true
      return 1
    fi
    sleep 0.1
  done
  echo "error: no answer from $url within ${WAIT_SECONDS:-60} s; the server's log: $log" >&2
  tail -n 20 "$log" >&2 || true
  return 1
}
