# SPDX-License-Identifier: Apache-2.0
"""Every default and bound sipalgctl's configuration model uses, in one place.

The first part is the plugin's: the values a freshly started VPP has (vpp-plugin/sip_alg/
sip_alg.h, SIP_ALG_* macros) and the bounds its setters accept, so that a YAML that leaves a
key out leaves the plugin as it starts. PLUGIN_MACROS names the macro of each;
tests/mgmt/test_defaults.py reads the header and fails when one drifts. The second part is
sipalgctl's own (startup.conf, NAT44-ED, the firewall)."""

# --- the plugin's (sip_alg.h) --------------------------------------------------------------

UDP_PORT = 5060  # SIP_ALG_DEFAULT_PORT
TCP_PORT = 5060  # SIP_ALG_DEFAULT_TCP_PORT: SIP over TCP inspected out of the box
TLS_PORT = 5061  # SIP_ALG_TLS_PORT: SIP over TLS passes untouched, counted (tls)
MAX_PORTS = 8  # SIP_ALG_MAX_PORTS: UDP and TCP ports each
MAX_SERVERS = 16  # SIP_ALG_MAX_SERVERS: published SIP servers (sip_alg_set_servers)
MAX_MEDIA_ADDRESSES = 16  # SIP_ALG_MAX_MEDIA_ADDRS (sip_alg_set_media_addresses)
SIGNALING = 120  # seconds
MEDIA = 60
CALL = 7200
MAX_CALLS = 10000
# call timers, 0: off (Juniper SRX's SIP ALG's inactive-media-timeout, maximum-call-duration)
MEDIA_INACTIVITY = 120
MAX_DURATION = 43200
# seconds a media stream of an established call may carry media one way only (none the other
# way) before it is flagged one-way and counted (media_one_way), 0: off
ONE_WAY_MEDIA = 5
MEDIA_PORTS = (40000, 59999)  # public media port pairs: the range starts on an even port
MAX_HELD = 512  # messages held for their pinholes per thread
# security (sip_alg_set_security)
MAX_INBOUND_CALLS = 1000
MAX_INBOUND_PER_SOURCE = 20
MAX_BINDING_TIME = 3600
MAX_ENTRIES = 65536
MAX_ENTRIES_PER_CALL = 24
INSIDE_MEDIA_PORTS = (1024, 65535)
TCP_REASSEMBLY = 16384  # bytes per direction of a connection
# limits per inside host (sip_alg_set_host_limits), 0: off. No macro: sip_alg_main starts
# zeroed; tests/e2e/test_sipalgctl.py reads them from a freshly started VPP.
MAX_CALLS_PER_HOST = 0
MAX_ENTRIES_PER_HOST = 0
# validation (sip_alg_set_validation); no macros either (zeroed: lenient, every class passes,
# no method blocked, no rate limit), read from a fresh VPP by the same test
VALIDATION_MODE = "lenient"
# the action of every malformed class the YAML does not name, by mode
MODE_ACTION = {"lenient": "pass", "strict": "drop"}
# malformed classes, in sip_alg_class_t order (sip_alg.h; the CLI spells too_many too-many)
VALIDATION_CLASSES = ("parse", "header", "sdp", "too_many")
# requests that may be blocked from outside, in sip_method_t order (core/sip_msg.h
# foreach_sip_method, then SIP_METHOD_OTHER: any other method): the method at index i is
# bit 1 << (i + 1) of block_methods (SIP_METHOD_NONE is 0)
SIP_METHODS = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "UPDATE",
               "INFO", "SUBSCRIBE", "NOTIFY", "MESSAGE", "REFER", "PUBLISH", "OTHER")
# the rate-limited methods (token buckets per source address and worker), 0: off
RATE_LIMITED = ("invite", "register")

# constant -> the header macro it must equal (a pair: the macros of its two ends)
PLUGIN_MACROS = {
    "UDP_PORT": "SIP_ALG_DEFAULT_PORT",
    "TCP_PORT": "SIP_ALG_DEFAULT_TCP_PORT",
    "TLS_PORT": "SIP_ALG_TLS_PORT",
    "MAX_PORTS": "SIP_ALG_MAX_PORTS",
    "MAX_SERVERS": "SIP_ALG_MAX_SERVERS",
    "SIGNALING": "SIP_ALG_DEFAULT_SIGNALING",
    "MEDIA": "SIP_ALG_DEFAULT_MEDIA",
    "CALL": "SIP_ALG_DEFAULT_CALL",
    "MAX_CALLS": "SIP_ALG_DEFAULT_MAX_CALLS",
    "MEDIA_INACTIVITY": "SIP_ALG_DEFAULT_MEDIA_INACTIVITY",
    "MAX_DURATION": "SIP_ALG_DEFAULT_MAX_DURATION",
    "ONE_WAY_MEDIA": "SIP_ALG_DEFAULT_ONE_WAY_MEDIA",
    "MEDIA_PORTS": ("SIP_ALG_MEDIA_PORT_LO", "SIP_ALG_MEDIA_PORT_HI"),
    "MAX_INBOUND_CALLS": "SIP_ALG_DEFAULT_MAX_INBOUND",
    "MAX_INBOUND_PER_SOURCE": "SIP_ALG_DEFAULT_MAX_INBOUND_SRC",
    "MAX_BINDING_TIME": "SIP_ALG_DEFAULT_MAX_BINDING",
    "MAX_ENTRIES": "SIP_ALG_DEFAULT_MAX_ENTRIES",
    "MAX_ENTRIES_PER_CALL": "SIP_ALG_DEFAULT_MAX_PER_CALL",
    "INSIDE_MEDIA_PORTS": ("SIP_ALG_INSIDE_PORT_LO", "SIP_ALG_INSIDE_PORT_HI"),
    "TCP_REASSEMBLY": "SIP_ALG_DEFAULT_TCP_REASSEMBLY",
    "MAX_HELD": "SIP_ALG_DEFAULT_MAX_HELD",
    # the setters' bounds (sip_alg_config.c reads them from these macros)
    "TIMEOUT_MIN": "SIP_ALG_TIMEOUT_MIN",
    "TIMEOUT_MAX": "SIP_ALG_TIMEOUT_MAX",
    "MAX_CALLS_MAX": "SIP_ALG_MAX_CALLS_MAX",
    "MAX_HELD_MAX": "SIP_ALG_MAX_HELD_MAX",
    "MEDIA_PORT_MIN": "SIP_ALG_MEDIA_PORT_MIN",
    "MEDIA_PORTS_MIN_COUNT": "SIP_ALG_MEDIA_PORTS_MIN_COUNT",
    "INSIDE_PORT_MIN": "SIP_ALG_INSIDE_PORT_LO",
    "TCP_REASSEMBLY_MIN": "SIP_ALG_TCP_REASSEMBLY_MIN",
    "MAX_MEDIA_ADDRESSES": "SIP_ALG_MAX_MEDIA_ADDRS",
}

# bounds the plugin's setters enforce (sip_alg_config.c, the only place a value is refused;
# these give `check` its messages); PLUGIN_MACROS names their macros, and
# tests/mgmt/test_defaults.py checks them against the setters themselves
U32_MAX = 0xFFFFFFFF
TIMEOUT_MIN, TIMEOUT_MAX = 1, 604800  # signaling, media, call (s)
MAX_CALLS_MAX = 16777216  # the calls dump's cursor holds a pool index in 24 bits
MAX_HELD_MAX = 1048576
MEDIA_PORT_MIN = 1024  # sip_alg_set_limits: an even lo >= 1024, at least 4 ports
MEDIA_PORTS_MIN_COUNT = 4
INSIDE_PORT_MIN = 1024  # SIP_ALG_INSIDE_PORT_LO: sip_alg_set_security's lowest inside port
# sip_alg_set_limits' tcp_reassembly: 1024 .. SIP_MAX_MSG_LEN (core/sip_types.h)
TCP_REASSEMBLY_MIN, TCP_REASSEMBLY_MAX = 1024, 65535
# call timers: key -> (lowest, highest) value other than 0 (off); the highest are
# SIP_ALG_MEDIA_INACTIVITY_MAX, SIP_ALG_MAX_DURATION_MAX, SIP_ALG_ONE_WAY_MEDIA_MAX
CALL_TIMERS = {"media_inactivity": (1, 86400), "max_duration": (1, 604800),
               "one_way_media": (1, 3600)}
# security: key -> lowest value the plugin accepts (all u32; 0 is refused; the lowest
# max_entries_per_call is SIP_ALG_MIN_PER_CALL)
SECURITY_MIN = {"max_inbound_calls": 1, "max_inbound_per_source": 1, "max_binding_time": 1,
                "max_entries": 1, "max_entries_per_call": 4}

# --- sipalgctl's own -------------------------------------------------------------------------

RUNTIME_DIR = "/run/sipalg"
BUFFERS = 16384
MAIN_HEAP = "1G"
NAT_SESSIONS = 10000
FW_OUTBOUND = "permit"
FW_INBOUND = "deny"
# IPv4 tables (VRFs): ids 1..2^32-2 (0 is the default table, ~0 means none to NAT44-ED and
# the FIB); a name is VPP's table name (ip_table_add_del's string name[64]), which the ALG's
# VPN column shows. The default table has no entry and is "public" in that column.
VRF_TABLE_MAX = 0xFFFFFFFE
VRF_NAME_MAX = 63
DEFAULT_VPN = "public"
# the configuration file: its largest size in bytes (checked before it is parsed; a real one
# is a few kilobytes, and the C YAML loader reads 1 MiB in about a second) and the deepest
# nesting of its mappings and lists (its own is 5 levels deep)
MAX_CONFIG_BYTES = 1 << 20
MAX_CONFIG_DEPTH = 32
