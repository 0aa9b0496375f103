# SPDX-License-Identifier: Apache-2.0
"""Packages the repository's templates/ (beside mgmt/) into sipalgctl as sipalgctl/templates.

Metadata is in pyproject.toml; this file only adds two build steps, because the templates
live at the top of the repository, outside this project directory, where package-dir and
package-data cannot reach in an sdist:

  sdist     copies them into the archive as templates/, beside pyproject.toml;
  build_py  copies them into the wheel as sipalgctl/templates/: from the sdist's templates/,
            or, when building from the checkout (pip install ./mgmt, pip wheel ./mgmt),
            from ../templates;
  editable  (pip install -e mgmt) copies nothing: sipalgctl.render reads the checkout's
            templates/ directly, so edits show up without reinstalling."""

import glob
import os

from setuptools import setup
from setuptools.command.build_py import build_py as _build_py
from setuptools.command.sdist import sdist as _sdist

HERE = os.path.dirname(os.path.abspath(__file__))
# an sdist's own copy first, then the checkout's
SOURCES = (os.path.join(HERE, "templates"), os.path.join(HERE, "..", "templates"))


def template_files():
    for d in SOURCES:
        files = sorted(glob.glob(os.path.join(d, "*.j2")))
        if files:
            return files
    raise SystemExit("sipalgctl: no *.j2 templates in " + " or ".join(
        os.path.normpath(d) for d in SOURCES) + ": build from the repository's mgmt/ "
        "(templates/ beside it) or from an sdist made there")


class build_py(_build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        dst = os.path.join(self.build_lib, "sipalgctl", "templates")
        self.mkpath(dst)
        for f in template_files():
            self.copy_file(f, dst)


class sdist(_sdist):
    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        dst = os.path.join(base_dir, "templates")
        self.mkpath(dst)
        for f in template_files():
            self.copy_file(f, dst)


setup(cmdclass={"build_py": build_py, "sdist": sdist})
