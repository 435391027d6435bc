# The emulated internet for evio's integration tests (source after common.sh).
# Same shape as ../shared/recipes/nat-topo.sh, built from ns_add namespaces so
# names carry the run's prefix and cleanup is automatic:
#
#   node1 10.99.1.10 --- nat1 [lan 10.99.1.1 | wan 10.99.100.1, NAT] ---+
#   node2 10.99.2.10 --- nat2 [lan 10.99.2.1 | wan 10.99.100.2, NAT] ---+-- br0 in "pub"
#   ...                                                                 |   10.99.100.254
#   nodeN 10.99.N.10 --- natN [lan 10.99.N.1 | wan 10.99.100.N, NAT] ---+   (gateway, no
#                                                   srv 10.99.100.10 ---+    forwarding)
#
# "pub" is the internet core: everyone's default gateway, but it does not
# forward, so a packet to a private address dies there as it would out there.
# Node i's NAT has WAN 10.99.100.i (100+i for i >= 10, since .10 is srv).
#
# Each site is one of these kinds (net_up N [KIND...], or NET_KINDS="KIND..."
# for nodes_up; a missing kind is "home"):
#   home       a home router: masquerade, forwards only replies inward, and
#              its WAN input chain drops unsolicited packets (as OpenWrt's wan
#              zone does): two of them punch through directly (srflx/srflx)
#   open       masquerade with no input filter: a peer's first, unsolicited
#              check is taken by the router itself, which then remaps the
#              node's own packets to another port (hole punching fails)
#   symmetric  a home router whose masquerade picks a random port for each
#              destination (endpoint-dependent mapping): only relaying works
#   public     no NAT: the node's eth0 is on the internet with the address
#              its NAT would have had (a cloud VM)
#   lan:J      no router of its own: the node sits on site J's LAN (J < i),
#              behind site J's NAT, at 10.99.J.(10+i)

NET_N=0
NET_KIND=()
NET_NODE_IP=()

net_srv_ip()  { echo 10.99.100.10; }
net_node_ip() { echo "${NET_NODE_IP[$1]:-10.99.$1.10}"; }
net_nat_wan_ip() { if [ "$1" -lt 10 ]; then echo "10.99.100.$1"; else echo "10.99.100.$((100 + $1))"; fi; }
# net_kind I: site I's kind (home, open, symmetric, public, lan:J).
net_kind() { echo "${NET_KIND[$1]:-home}"; }
# The interface (in namespace "pub") that sees every packet crossing the internet.
net_pub_if()  { echo br0; }

# net_up N [KIND...]: build the internet with N sites (1 <= N <= 99), site i
# of the i-th KIND (default: $NET_KINDS, then home).
net_up() {
  local n=${1:?net_up N}; shift
  [ "$n" -ge 1 ] && [ "$n" -le 99 ] || fail "net_up: N must be 1..99, got $n"
  local kinds=("$@") i kind
  [ ${#kinds[@]} -gt 0 ] || read -r -a kinds <<<"${NET_KINDS:-}"
  ns_add pub srv
  ip -n "${EVT_PREFIX}pub" link add br0 type bridge || fail "net_up: cannot create bridge"
  ip -n "${EVT_PREFIX}pub" link set br0 up
  ip -n "${EVT_PREFIX}pub" addr add 10.99.100.254/24 dev br0
  _net_wan srv wan 10.99.100.10

  for i in $(seq 1 "$n"); do
    kind=${kinds[$((i - 1))]:-home}
    NET_KIND[$i]=$kind
    case $kind in
      home|open|symmetric) _net_site "$i" "$kind" ;;
      public)
        ns_add "node$i"
        _net_wan "node$i" eth0 "$(net_nat_wan_ip "$i")"
        NET_NODE_IP[$i]=$(net_nat_wan_ip "$i") ;;
      lan:*)
        local j=${kind#lan:}
        [[ $j =~ ^[0-9]+$ ]] && [ "$j" -lt "$i" ] || fail "net_up: site $i: $kind: J must be a site before $i"
        case ${NET_KIND[$j]} in home|open|symmetric) ;; *) fail "net_up: site $i: site $j has no LAN";; esac
        ns_add "node$i"
        _net_lan_host "$j" "node$i" "10.99.$j.$((10 + i))"
        NET_NODE_IP[$i]=10.99.$j.$((10 + i)) ;;
      *) fail "net_up: site $i: unknown kind '$kind' (home, open, symmetric, public, lan:J)" ;;
    esac
  done
  NET_N=$n
  log "internet up: srv $(net_srv_ip), $n site(s): $(for i in $(seq 1 "$n"); do printf '%s ' "$(net_kind "$i")"; done)"
}

# _net_site I KIND: router nat<I> with a LAN bridge, and node<I> on it.
_net_site() {
  local i=$1 kind=$2 nat=nat$1 masq=masquerade input=
  ns_add "$nat"
  _net_wan "$nat" wan "$(net_nat_wan_ip "$i")"
  ip -n "${EVT_PREFIX}$nat" link add lan type bridge || fail "net_up: cannot create the LAN of site $i"
  ip -n "${EVT_PREFIX}$nat" addr add "10.99.$i.1/24" dev lan
  ip -n "${EVT_PREFIX}$nat" link set lan up
  ns "$nat" sysctl -qw net.ipv4.ip_forward=1
  ns_add "node$i"
  _net_lan_host "$i" "node$i" "10.99.$i.10"
  [ "$kind" = symmetric ] && masq="masquerade random,fully-random"
  # a home router's WAN input: replies to what it sent, nothing unsolicited
  [ "$kind" = open ] || input='chain input { type filter hook input priority filter; policy drop;
    ct state established,related accept
    iifname != "wan" accept
  }'
  ns "$nat" nft -f - <<NFT || fail "net_up: nftables rules in $nat"
table ip nat {
  chain postrouting { type nat hook postrouting priority srcnat; oifname "wan" $masq; }
}
table ip filter {
  chain forward { type filter hook forward priority filter; policy drop;
    iifname "lan" accept
    ct state established,related accept
  }
  $input
}
NFT
}

# _net_lan_host J NS IP: plug namespace NS into site J's LAN as eth0 with IP.
_net_lan_host() {
  local j=$1 n=$2 ip=$3 port
  port=l-${n#node}
  ip link add "$port" netns "${EVT_PREFIX}nat$j" type veth peer name eth0 netns "${EVT_PREFIX}$n" \
    || fail "net_up: cannot plug $n into the LAN of site $j"
  ip -n "${EVT_PREFIX}nat$j" link set "$port" master lan up
  ip -n "${EVT_PREFIX}$n" addr add "$ip/24" dev eth0
  ip -n "${EVT_PREFIX}$n" link set eth0 up
  ip -n "${EVT_PREFIX}$n" route add default via "10.99.$j.1"
}

# _net_wan NS IF IP: plug NS into the pub bridge as IF with address IP and a default route.
_net_wan() {
  local x=$1 if=$2 ip=$3
  ip link add "$if" netns "${EVT_PREFIX}$x" type veth peer name "p-$x" netns "${EVT_PREFIX}pub" \
    || fail "net_up: cannot plug $x into the internet"
  ip -n "${EVT_PREFIX}pub" link set "p-$x" master br0 up
  ip -n "${EVT_PREFIX}$x" addr add "$ip/24" dev "$if"
  ip -n "${EVT_PREFIX}$x" link set "$if" up
  # Without a default route coturn tears relay allocations down (ENETUNREACH).
  ip -n "${EVT_PREFIX}$x" route add default via 10.99.100.254
}

# net_capture_start NS IF FILE: capture everything on IF in namespace NS into
# FILE (pcap); returns once tcpdump is capturing, its PID in NET_CAPTURE_PID.
# (Not meant for $(...): a PID recorded in a subshell is lost to cleanup.)
# The internet's traffic: net_capture_start pub "$(net_pub_if)" FILE.
net_capture_start() {
  local n=$1 if=$2 f=$3
  # --immediate-mode: without it packets wait in the kernel ring for its
  # block timeout and a quick SIGINT ends the capture before they are read
  bg "$n" "$f.log" tcpdump --immediate-mode -n -i "$if" -U -s 0 -w "$f" >/dev/null
  NET_CAPTURE_PID=${EVT_PIDS[-1]}
  wait_until 10 "tcpdump listening on $if in $n" grep -q "listening on" "$f.log"
}
# net_capture_stop PID: stop a capture (SIGINT flushes the file).
net_capture_stop() {
  local p=$1 i
  kill -INT "$p" 2>/dev/null
  for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill_wait "$p" || true
}

# pcap_count FILE STRING: how many times STRING's bytes occur in FILE.
pcap_count() {
  python3 -c 'import sys; print(open(sys.argv[1], "rb").read().count(sys.argv[2].encode()))' "$1" "$2"
}

# net_tcp_listen NS IP PORT OUTFILE: a one-shot TCP receiver in NS writing
# what it gets to OUTFILE; returns once listening, its PID in NET_TCP_PID.
net_tcp_listen() {
  local n=$1 ip=$2 port=$3 out=$4
  bg "$n" "$out.rx.log" python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
c, peer = s.accept()
n = 0
with open(sys.argv[3], "wb") as f:
    while True:
        d = c.recv(65536)
        if not d:
            break
        f.write(d)
        n += len(d)
print("received", n, "bytes from", peer[0])
' "$ip" "$port" "$out" >/dev/null
  NET_TCP_PID=${EVT_PIDS[-1]}
  wait_until 10 "TCP listener on $ip:$port in $n" _net_tcp_listening "$n" "$ip" "$port"
}
_net_tcp_listening() { ns "$1" ss -Hltn "src $2:$3" | grep -q .; }

# net_tcp_send NS IP PORT FILE [SECONDS]: send FILE to IP:PORT from NS (default limit 60 s).
net_tcp_send() {
  ns "$1" timeout "${5:-60}" python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
with open(sys.argv[3], "rb") as f:
    s.sendall(f.read())
s.shutdown(socket.SHUT_WR)
s.recv(1)
s.close()
' "$2" "$3" "$4"
}
