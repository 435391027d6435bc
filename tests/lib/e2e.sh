# Everything an end-to-end test needs, in one line: source it from a test in
# tests/integration/, then call evt_init.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$EVT_TOP/tests/lib/net.sh"
source "$EVT_TOP/tests/lib/coturn.sh"
source "$EVT_TOP/tests/lib/prosody.sh"
source "$EVT_TOP/tests/lib/node.sh"
