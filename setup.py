"""Only what setup.cfg cannot say: the optional C parts of the fast path.

* ``tailer._scan`` (tailer/_scan.c): the keyword scan and line splitting of the file path.
* ``tailer._journal`` (tailer/_journal.c): a journal reader on libsystemd (needs its headers,
  Debian's libsystemd-dev), with the journal source's batch loop.

Both are ``optional=True``: without a compiler or the headers the install still succeeds, and
tailer uses its pure-Python scanner and systemd-python's reader, which give the same answers
more slowly.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("tailer._scan", ["tailer/_scan.c"], optional=True),
        Extension("tailer._journal", ["tailer/_journal.c"], libraries=["systemd"], optional=True),
    ]
)
