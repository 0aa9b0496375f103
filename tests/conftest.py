# SPDX-License-Identifier: Apache-2.0
"""Test tiers: core/ (anywhere), vpp/ (packet generator, needs VPP), e2e/ (network
namespaces and real SIP user agents, needs VPP and root). Helpers shared by the VPP tiers
live beside this file (vpp_harness.py)."""
