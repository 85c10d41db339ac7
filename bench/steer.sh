# SPDX-License-Identifier: Apache-2.0
# Sourced by bench/run and bench/fanout_ab. On loopback a send() also runs the receiving side's
# TCP (softirq on the sender's core, charged to the sender), which over a network runs on the
# receiving host. Receive Packet Steering on lo moves that work to another core (the driver's),
# so the server's CPU counts what a sender pays on a network (bench/README.md). Needs root.
steer_file=/sys/class/net/lo/queues/rx-0/rps_cpus
steer_saved=""

# Whether lo's steering can be changed here.
can_steer_receive() { [[ -w $steer_file ]]; }

# steer_receive on CPU: lo's receive work to core CPU; steer_receive off: as it was before.
steer_receive() {
  if [[ $1 == on ]]; then
    [[ -n $steer_saved ]] || steer_saved=$(<"$steer_file")
    printf '%x' $((1 << $2)) >"$steer_file"
  elif [[ -n $steer_saved ]]; then
    echo "$steer_saved" >"$steer_file"
    steer_saved=""
  fi
}
