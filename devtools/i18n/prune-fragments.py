"""Fragment entries whose msgid no source uses any more (run after build-catalogue.sh, which extracts them).

The build keeps only the msgids found in the sources, so an entry left in a fragment after its string changed is
dead weight that a later string could silently pick up. `--write` removes them; without it, they are listed and
the exit status is 1 when there are some.
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "locale/fr/LC_MESSAGES/django.po"


def entry_key(block: str) -> tuple[str | None, str] | None:
    context = re.search(r'^msgctxt "(.*)"', block, re.M)
    msgid = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
    if msgid is None:
        return None
    singular = msgid.group(1).split("msgid_plural")[0]
    return (context.group(1) if context else None, "".join(re.findall(r'"(.*)"', singular)))


def main() -> int:
    used = {
        key
        for block in CATALOGUE.read_text(encoding="utf-8").split("\n\n")
        if not block.lstrip().startswith("#~") and (key := entry_key(block)) is not None
    }
    unused_count = 0
    for fragment in sorted((ROOT / "locale/fragments").glob("*.po")):
        blocks = fragment.read_text(encoding="utf-8").split("\n\n")
        unused = [block for block in blocks if (key := entry_key(block)) is not None and key[1] and key not in used]
        for block in unused:
            print(f"{fragment.relative_to(ROOT)}: {entry_key(block)[1]!r}")  # type: ignore[index]
        unused_count += len(unused)
        if unused and "--write" in sys.argv:
            fragment.write_text("\n\n".join(block for block in blocks if block not in unused), encoding="utf-8")
    return 1 if unused_count and "--write" not in sys.argv else 0


if __name__ == "__main__":
    sys.exit(main())
