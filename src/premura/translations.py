"""Compiling the Italian and English message catalogues (.po → .mo) at start-up.

Compiled catalogues are build output and stay out of the repository; Babel writes them next to
their .po files whenever a .po is newer, so neither users nor CI need GNU gettext installed.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

PACKAGE_DIR = Path(__file__).resolve().parent


def compile_catalogs(package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """Compile every stale catalogue (the project's and each app's); returns the .mo files written."""
    written = []
    for po_path in sorted(package_dir.glob("**/locale/*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        tmp = mo_path.with_suffix(".mo.tmp")
        with tmp.open("wb") as mo_file:
            write_mo(mo_file, catalog)
        tmp.replace(mo_path)
        written.append(mo_path)
    return written
