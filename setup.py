"""Only what setup.cfg cannot say: the optional C scanner of the fast path (tailer/_scan.c).

``optional=True``: without a compiler the install still succeeds, and tailer.skipping uses its
pure-Python scanner, which gives the same answers more slowly.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("tailer._scan", ["tailer/_scan.c"], optional=True)])
