"""The nightly refresh of the reference lists (countries, communes, schools, bac series and spécialités) from the
student records system into the tables the dossier forms read (``applications.models.reference``)."""

from typing import Any

from django.db import transaction

from applications.countries import FRANCE, iso_code_for_label
from applications.models import (
    ReferenceBacSeries,
    ReferenceBacSpeciality,
    ReferenceCommune,
    ReferenceCountry,
    ReferenceSchool,
)
from applications.models.reference import forget_reference_lists
from applications.sis import ReferenceItem, ReferenceKind, StudentRecordsBackend, StudentRecordsUnavailable
from ecandidat.batches import Report

# In this order: schools are kept only when their commune is known (eCandidat's rule), so communes come first.
# The spécialités come last: a Pégase without that nomenclature stops the batch after the others were refreshed.
ReferenceModel = type[
    ReferenceCountry | ReferenceCommune | ReferenceSchool | ReferenceBacSeries | ReferenceBacSpeciality
]
MODELS: dict[ReferenceKind, ReferenceModel] = {
    ReferenceKind.COUNTRIES: ReferenceCountry,
    ReferenceKind.COMMUNES: ReferenceCommune,
    ReferenceKind.SCHOOLS: ReferenceSchool,
    ReferenceKind.BAC_SERIES: ReferenceBacSeries,
    ReferenceKind.BAC_SPECIALITIES: ReferenceBacSpeciality,
}
FIELDS: dict[ReferenceKind, tuple[str, ...]] = {
    ReferenceKind.COUNTRIES: ("iso_code", "nationality_label"),
    ReferenceKind.COMMUNES: ("insee_code", "postal_code"),
    ReferenceKind.SCHOOLS: ("commune_insee_code", "department", "school_type"),
    ReferenceKind.BAC_SERIES: ("first_year", "last_year"),
    ReferenceKind.BAC_SPECIALITIES: ("first_year", "last_year"),
}
PEGASE_FRANCE = "100"


def _department(code: str) -> str:
    # Apogée and Pégase write départements on 3 characters ("066", "02A"); the dossier as the INSEE does ("66").
    return code[1:] if len(code) == 3 and code.startswith("0") else code


def _row(kind: ReferenceKind, item: ReferenceItem) -> Any:
    model = MODELS[kind]
    values = {name: getattr(item, name) for name in FIELDS[kind] if hasattr(item, name)}
    if kind == ReferenceKind.COUNTRIES:
        values["iso_code"] = FRANCE if item.code == PEGASE_FRANCE else iso_code_for_label(item.label)
    if kind == ReferenceKind.SCHOOLS:
        values["department"] = _department(item.department)
    return model(code=item.code[:20], label=item.label[:200], visible=item.visible, **values)


def refresh_reference_data(*, backend: StudentRecordsBackend, report: Report, dry_run: bool = False) -> None:
    """Replace each reference list with the backend's (eCandidat ``BATCH_SYNCHRO_SISCOL``, nomenclatures part).

    A list is written in one transaction: rows are created or updated, and rows the backend no longer sends are
    hidden, not deleted (dossiers may hold their codes). A backend without lists (the CSV one) changes nothing; an
    empty answer is refused (a list is never emptied by accident); a backend that does not answer stops the batch
    with an error and every table stays as it was. Countries the refresh cannot match to an ISO code are kept but
    not offered (counted as "countries without ISO code").
    """
    for kind, model in MODELS.items():
        try:
            items = backend.reference_list(kind)
        except StudentRecordsUnavailable as exc:
            report.error(f"{kind.value}: {exc}; this list and the next ones are kept as they were")
            return
        if items is None:
            report.add(f"{kind.value}: not provided by the backend")
            continue
        if not items:
            report.error(f"{kind.value}: the backend sent an empty list; kept as it was")
            continue
        rows = {item.code: _row(kind, item) for item in items}  # the last of duplicate codes wins
        if kind == ReferenceKind.SCHOOLS and ReferenceCommune.objects.exists():
            communes = set(ReferenceCommune.objects.values_list("insee_code", flat=True))
            unknown = [code for code, row in rows.items() if row.commune_insee_code not in communes]
            for code in unknown:
                del rows[code]
            report.add(f"{kind.value}: skipped, commune unknown", len(unknown))
        if kind == ReferenceKind.COUNTRIES:
            report.add(
                "countries without ISO code",
                sum(not row.iso_code for row in rows.values()),
            )
        report.add(f"{kind.value}: received", len(rows))
        if dry_run:
            continue
        with transaction.atomic():
            model.objects.update(visible=False)  # the rows received below are visible again
            model.objects.bulk_create(
                rows.values(),
                batch_size=1000,
                update_conflicts=True,
                unique_fields=["code"],
                update_fields=["label", "visible", "refreshed_at", *FIELDS[kind]],
            )
        report.add(f"{kind.value}: hidden", model.objects.filter(visible=False).count())
    forget_reference_lists()
