# SPDX-License-Identifier: Apache-2.0
# Sourced by bench/run and bench/fanout_ab. On loopback a send() also runs the receiving side's
# TCP (softirq on the sender's core, charged to the sender), which over a network runs on the
# receiving host. Receive Packet Steering on lo moves that work to another core (the driver's),
# so the server's CPU counts what a sender pays on a network (bench/README.md). Needs root.
# The setting is the machine's and outlives a run that is killed (SIGKILL runs no trap), so the
# unsteered rows set it off themselves rather than trust what they find, and the results say
# which it was (steer_state).
steer_file=/sys/class/net/lo/queues/rx-0/rps_cpus
steer_saved=""

# Whether lo's steering can be changed here.
can_steer_receive() { [[ -w $steer_file ]]; }

# steer_receive on CPU: lo's receive work to core CPU. steer_receive none: no steering (where it
# can be changed). steer_receive restore: as it was before the first of these.
steer_receive() {
  case $1 in
    on | none)
      can_steer_receive || return 0
      [[ -n $steer_saved ]] || steer_saved=$(<"$steer_file")
      local mask=0
      [[ $1 == on ]] && mask=$(printf '%x' $((1 << $2)))
      echo "$mask" >"$steer_file"
      ;;
    restore)
      [[ -n $steer_saved ]] && echo "$steer_saved" >"$steer_file"
      steer_saved=""
      ;;
  esac
}

# How lo's receive work is steered now, for the results: "none", or the CPUs it goes to.
steer_state() {
  local mask
  mask=$(tr -d ',' <"$steer_file" 2>/dev/null) || { echo "unknown"; return; }
  if [[ $mask =~ ^0*$ ]]; then echo none; else echo "to CPU mask 0x$mask"; fi
}
