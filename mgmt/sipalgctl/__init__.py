# SPDX-License-Identifier: Apache-2.0
"""sipalgctl: configure and watch the vpp-sipalg plugin from YAML."""

__version__ = "0.1.0"

# exit codes
EXIT_OK = 0
EXIT_INVALID = 1
EXIT_UNREACHABLE = 2  # VPP not installed or not reachable
EXIT_APPLY_FAILED = 3
