# SPDX-License-Identifier: Apache-2.0
"""The harness starts VPP only with a sip_alg plugin compiled as that VPP was: with
CLIB_DEBUG for a debug VPP (make plugin-asan), without it for a release VPP (make plugin).
A plugin without it in a debug VPP frees buffers VPP's double-allocation check never sees
freed, and VPP panics at the next allocation of one ("allocating known-allocated buffer").
Stand-in libraries here, compiled with the C compiler: no VPP needed."""

import shutil
import subprocess

import pytest

import vpp_harness as h

CHECK_CALL = ("void vlib_buffer_validate_alloc_free (void *vm, void *b, unsigned long n, int s);\n"
              "void f (void) { vlib_buffer_validate_alloc_free (0, 0, 0, 0); }\n")
NO_CHECK = "void f (void) {}\n"


def shared_object(path, src):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    assert cc, "no C compiler (cc, gcc, clang)"
    path.parent.mkdir(parents=True, exist_ok=True)
    c = path.with_suffix(".c")
    c.write_text(src)
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(path), str(c)], check=True)
    return path


@pytest.fixture
def builds(tmp_path, monkeypatch):
    """make(vpp_debug, plugin_debug) -> a VPP object for a stand-in prefix whose libvnet.so,
    and a plugin directory whose sip_alg_plugin.so, call VPP's buffer check or not."""
    def make(vpp_debug, plugin_debug):
        d = tmp_path / f"{int(vpp_debug)}{int(plugin_debug)}"
        shared_object(d / "vpp" / "lib" / "x86_64-linux-gnu" / "libvnet.so",
                      CHECK_CALL if vpp_debug else NO_CHECK)
        shared_object(d / "plugins" / "sip_alg_plugin.so", CHECK_CALL if plugin_debug else NO_CHECK)
        monkeypatch.setattr(h, "PLUGIN_DIR", str(d / "plugins"))
        return h.VPP(str(d / "vpp"), tmpdir=str(d))
    return make


def test_elf_undefined_reads_the_dynamic_symbols(tmp_path):
    so = shared_object(tmp_path / "a.so", CHECK_CALL)
    assert h.BUFFER_CHECK in h.elf_undefined(str(so))
    assert h.BUFFER_CHECK not in h.elf_undefined(str(shared_object(tmp_path / "b.so", NO_CHECK)))
    with pytest.raises(ValueError, match=r"a\.c: not a 64-bit"):
        h.elf_undefined(str(tmp_path / "a.c"))


@pytest.mark.parametrize("debug", [False, True], ids=["release", "debug"])
def test_plugin_built_as_vpp_accepted(builds, debug):
    builds(debug, debug).check_plugin_build()


def test_release_plugin_in_debug_vpp_refused(builds):
    v = builds(True, False)
    with pytest.raises(h.VPPError, match=r"compiled without CLIB_DEBUG and this VPP .* is a "
                       r"debug build.*make plugin-asan VPP_ASAN_PREFIX=.*SIPALG_PLUGIN_DIR="):
        v.check_plugin_build()


def test_debug_plugin_in_release_vpp_refused(builds):
    v = builds(False, True)
    with pytest.raises(h.VPPError, match=r"compiled with CLIB_DEBUG and this VPP .* is not a "
                       r"debug build.*make plugin VPP_PREFIX="):
        v.check_plugin_build()
