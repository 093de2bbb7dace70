"""Project-wide rules that no single feature test would catch."""

import ast
import inspect
import re
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.db.models import CASCADE, ForeignKey

from ecandidat.admin_base import history_in_model_words
from ecandidat.parameters import PARAMETERS

PROJECT_APPS = {"ecandidat", "accounts", "offers", "applications", "documents"}
# Rows that only make sense with their parent and carry no history: deleting the parent removes them.
# A row that means nothing without its user (a membership, a person's saved export columns, allauth's authenticator
# shown through the StaffSecondFactor proxy) goes with the user.
PURE_CHILDREN = {
    "accounts.StaffMembership.user",
    "applications.ExportColumns.user",
    "accounts.StaffSecondFactor.user",
    "accounts.PreviousEmailAddress.user",  # the account's own former addresses go with it
}


def _project_models():
    return [model for model in apps.get_models() if model._meta.app_label in PROJECT_APPS]


def _starts_upper(name) -> bool:
    """True for "Campaign", false for "campaign" and for acronyms such as "INE and key"."""
    first_word = str(name).split(" ", 1)[0]
    return first_word[:1].isupper() and not first_word.isupper()


def test_verbose_names_are_lower_case():
    offenders = []
    for model in _project_models():
        for name in (model._meta.verbose_name, model._meta.verbose_name_plural):
            if _starts_upper(name):
                offenders.append(f"{model._meta.label}: {name}")
        offenders += [
            f"{model._meta.label}.{field.name}: {field.verbose_name}"
            for field in model._meta.get_fields()
            if getattr(field, "verbose_name", None) and _starts_upper(field.verbose_name) and not field.auto_created
        ]
    assert offenders == []


def test_foreign_keys_to_people_and_documents_never_cascade():
    guarded = {"accounts.User", "documents.Document"}
    offenders = [
        f"{model._meta.label}.{field.name}"
        for model in _project_models()
        for field in model._meta.get_fields()
        if isinstance(field, ForeignKey)
        and field.related_model._meta.label in guarded
        and field.remote_field.on_delete is CASCADE
        and f"{model._meta.label}.{field.name}" not in PURE_CHILDREN
    ]
    assert offenders == []


def test_every_environment_variable_is_documented_in_the_readme():
    # An IT team configures the application from the README's table: a setting read from the environment but
    # missing there is a setting nobody will find.
    source = (settings.BASE_DIR / "ecandidat" / "settings" / "base.py").read_text(encoding="utf-8")
    readme = (settings.BASE_DIR / "README.md").read_text(encoding="utf-8")
    variables = set(re.findall(r'env_\w+\(\s*"([A-Z0-9_]+)"', source))
    assert len(variables) > 20
    # In the Configuration table's first column (a row may name several), once: mentioned elsewhere is not found.
    rows = [line.split("|")[1] for line in readme.splitlines() if line.startswith("| `")]
    named = [name for row in rows for name in re.findall(r"`([A-Z0-9_]+)`", row)]
    assert sorted(name for name in variables if name not in named) == []
    assert sorted({name for name in named if named.count(name) > 1}) == []


def _readme_table() -> dict[str, str]:
    """The Configuration table: each variable of a row's first column, with the row's "Default" cell."""
    readme = (settings.BASE_DIR / "README.md").read_text(encoding="utf-8")
    table = {}
    for line in readme.splitlines():
        if line.startswith("| `"):
            cells = line.split("|")
            for name in re.findall(r"`([A-Z0-9_]+)`", cells[1]):
                table[name] = cells[2].strip()
    return table


def _environment_reads() -> dict[str, ast.expr | None]:
    """Every variable the settings (env_* helpers) and deploy/gunicorn.conf.py (os.environ.get) read, with the
    default expression the code gives it (None: no default)."""
    reads: dict[str, ast.expr | None] = {}
    for path in (
        settings.BASE_DIR / "ecandidat" / "settings" / "base.py",
        settings.BASE_DIR / "deploy" / "gunicorn.conf.py",
    ):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args or not isinstance(node.args[0], ast.Constant):
                continue
            function = ast.unparse(node.func)
            if function.startswith("env_") or function == "os.environ.get":
                reads[node.args[0].value] = node.args[1] if len(node.args) > 1 else None
    return reads


def test_every_variable_of_the_readme_table_is_read():
    # The other way round: a variable documented but read nowhere is one an IT team sets for nothing.
    reads = _environment_reads()

    assert sorted(name for name in _readme_table() if name not in reads) == []


def _as_readme_writes_it(default: ast.expr) -> str | None:
    """A literal default as the README's table writes it (booleans 1/0, lists comma-separated); None when the
    default is computed (a path under VAR_DIR, the number of cores...)."""
    if any(isinstance(node, ast.Name | ast.Call | ast.Attribute) for node in ast.walk(default)):
        return None
    value = eval(compile(ast.Expression(default), "<default>", "eval"), {"__builtins__": {}})  # noqa: S307
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def test_the_readme_table_gives_each_variables_default():
    # An IT team reads the defaults there: a default changed in the settings but not in the table (or the reverse)
    # is a behaviour nobody chose. Checked where the cell is the literal values, one per variable of the row
    # (`20`, `0`), or "empty" / "unset" (optionally followed by a remark in brackets).
    reads = _environment_reads()
    rows: dict[str, list[str]] = {}
    for name, cell in _readme_table().items():
        rows.setdefault(cell, []).append(name)
    checked, wrong = 0, []
    for cell, names in rows.items():
        bare = re.sub(r"\s*\([^()]*\)$", "", cell)
        literals = re.findall(r"`([^`]*)`", bare)
        if re.fullmatch(r"`[^`]*`(, `[^`]*`)*", bare) and len(literals) == len(names):
            expected = dict(zip(names, literals, strict=True))
        elif bare in ("empty", "unset"):
            expected = dict.fromkeys(names, "")
        else:
            continue
        for name in names:
            default = reads[name]
            # No default in the call: unset, or computed after it (DATABASE_URL's SQLite file under VAR_DIR).
            computed = default is None and expected[name] != ""
            actual = None if computed else "" if default is None else _as_readme_writes_it(default)
            if actual is not None:
                checked += 1
                if actual != expected[name]:
                    wrong.append((name, actual, expected[name]))

    assert checked > 60
    assert wrong == []


def test_the_readme_names_every_parameter_of_the_back_office_and_only_those():
    # "Configuration" lists the variables that « Paramètres » overrides (ecandidat/parameters.py), with their number.
    readme = (settings.BASE_DIR / "README.md").read_text(encoding="utf-8")
    paragraph = re.search(
        r"\n(\S+) of them are the scolarité's behavioural parameters (.*?)\*\*these are", readme, re.S
    )
    units = ["", "-one", "-two", "-three", "-four", "-five", "-six", "-seven", "-eight", "-nine"]
    words = {20 + index: f"Twenty{unit}" for index, unit in enumerate(units)}  # past 29: extend

    assert set(re.findall(r"`([A-Z0-9_]+)`", paragraph.group(2))) == {parameter.name for parameter in PARAMETERS}
    assert paragraph.group(1) == words[len(PARAMETERS)]


def _catalogue_entries(text: str) -> list[list[str]]:
    """The live entries of a .po file (obsolete ``#~`` entries and the header left out), as lists of lines."""
    entries = []
    for block in text.split("\n\n"):
        lines = [line for line in block.strip().splitlines() if line and not line.startswith("#~")]
        if any(line.startswith("msgid ") for line in lines) and 'msgid ""' not in lines[:3]:
            entries.append(lines)
    return entries


def _translation_is_empty(lines: list[str]) -> bool:
    """True when a msgstr (or any msgstr[n]) is "" with no continuation line."""
    for index, line in enumerate(lines):
        if line.startswith("msgstr") and line.endswith(' ""'):
            following = lines[index + 1] if index + 1 < len(lines) else ""
            if not following.startswith('"'):
                return True
    return False


def test_the_french_catalogue_has_no_fuzzy_or_missing_translation():
    # makemessages marks a new msgid "fuzzy" when it looks like an old one ("Birth name" ~ "birth name"), and
    # msgfmt leaves fuzzy entries out: French users would read English. Every msgid needs its fragment entry
    # (locale/fragments/*.po, then devtools/i18n/build-catalogue.sh).
    catalogue = (settings.BASE_DIR / "locale" / "fr" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    entries = _catalogue_entries(catalogue)

    assert len(entries) > 500
    fuzzy = [lines for lines in entries if any(line.startswith("#,") and "fuzzy" in line for line in lines)]
    empty = [lines for lines in entries if _translation_is_empty(lines)]
    assert [next(line for line in lines if line.startswith("msgid")) for lines in fuzzy + empty] == []


def test_no_test_module_imports_another():
    """Shared test code lives in helpers, factories and fixtures (README, "Tests"): a test module that imports another
    breaks when that one is edited for its own reasons, and an imported test function is collected and run twice."""
    root = Path(settings.BASE_DIR)
    offenders = []
    for app in sorted(PROJECT_APPS):
        for path in sorted((root / app).rglob("test_*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                if any(name.rsplit(".", 1)[-1].startswith("test_") for name in names):
                    offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert offenders == []


def test_every_admin_history_names_fields_in_the_models_words():
    """Django's history stored a changed field by its form label (« Specific questions »), which no catalogue
    translates; ``ecandidat/admin.py`` wraps ``ModelAdmin.construct_change_message`` once for every ModelAdmin
    (``history_in_model_words``). A ModelAdmin that writes its own message still falls back on that one (super)."""
    wrapped = admin.ModelAdmin.construct_change_message
    assert getattr(wrapped, "__wrapped__", None) is not None
    assert wrapped.__code__ is history_in_model_words(lambda *args: None).__code__
    offenders = [
        f"{klass.__module__}.{klass.__qualname__}"
        for model_admin in admin.site._registry.values()
        for klass in type(model_admin).__mro__
        if klass is not admin.ModelAdmin
        and "construct_change_message" in vars(klass)
        and "super().construct_change_message(" not in inspect.getsource(vars(klass)["construct_change_message"])
    ]
    assert offenders == []
