# Sourced by scripts that start servers on loopback.
# pick_port VAR: sets VAR to a loopback port nothing listens on, below Linux's ephemeral range (a
# port there that nothing listens on may still be some connection's local end when it is bound),
# and never one this shell has handed out or reserved before.
# reserve_port PORT: pick_port will not hand out PORT.
# port_taken PORT: something listens on 127.0.0.1:PORT.
_picked_ports=" "
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
reserve_port() { _picked_ports+="$1 "; }
pick_port() {
  local _candidate
  for _ in $(seq 1000); do
    _candidate=$((10000 + RANDOM % 22000))
    [[ $_picked_ports == *" $_candidate "* ]] && continue
    port_taken "$_candidate" && continue
    reserve_port "$_candidate"
    printf -v "$1" "%s" "$_candidate"
    return 0
  done
  echo "no free loopback port found" >&2
  return 1
}
