# Sourced by bench/run and bench/sherlock_bench: how both start their local etcd.
# etcd_args DATA_DIR CLIENT_PORT PEER_PORT sets etcd_argv: a single-member cluster on loopback,
# errors only on stderr. Run it as "$ETCD_BIN" "${etcd_argv[@]}".
etcd_args() {
  etcd_argv=(--data-dir "$1"
    --listen-client-urls "http://127.0.0.1:$2" --advertise-client-urls "http://127.0.0.1:$2"
    --listen-peer-urls "http://127.0.0.1:$3" --initial-advertise-peer-urls "http://127.0.0.1:$3"
    --initial-cluster "default=http://127.0.0.1:$3"
    --logger zap --log-outputs stderr --log-level error)
}
