"""``manage.py verify_stored_files``: after a restore or a storage incident, every piece whose file is missing or
changed is named with its dossier, formation and piece; read-only; exit status 1 when there is one; memory and
queries do not grow with the number of files."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from applications.stored_files import CHUNK, Problem, verify_reference_files, verify_stored_files
from applications.tests.factories_candidature import PieceSubmissionFactory
from offers.models import DecisionLetterTemplate
from offers.tests.factories import CentreFactory, PieceTypeFactory

pytestmark = pytest.mark.django_db


def _submission(**fields):
    return PieceSubmissionFactory(piece_type=PieceTypeFactory(label="Lettre de motivation"), **fields)


def test_intact_files_pass_and_say_how_many(capsys):
    _submission()
    _submission()

    call_command("verify_stored_files")

    assert capsys.readouterr().out.strip() == "2 file(s) checked, 0 missing or changed."


def test_a_missing_and_a_truncated_file_are_named_and_the_exit_status_says_so(capsys):
    kept = _submission()
    lost = _submission()
    truncated = _submission()
    default_storage.delete(lost.document.file.name)
    default_storage.delete(truncated.document.file.name)
    default_storage.save(truncated.document.file.name, ContentFile(b"%PDF-1.4 cut"))

    with pytest.raises(CommandError) as raised:
        call_command("verify_stored_files")

    assert raised.value.returncode == 1
    assert str(raised.value) == "3 file(s) checked, 2 missing or changed."
    lines = capsys.readouterr().out.splitlines()
    numero = lost.candidate.user.numero_dossier
    assert lines[0] == (
        f"MISSING    {lost.document.file.name}  dossier {numero}  {lost.application.formation.code}  "
        "«Lettre de motivation»"
    )
    assert lines[1].startswith(f"SIZE       {truncated.document.file.name}  dossier ")
    assert lines[1].endswith(f"(12 bytes instead of {truncated.document.size})")
    assert kept.document.file.name not in "\n".join(lines)
    assert default_storage.exists(kept.document.file.name)  # read-only: nothing touched


def test_checksums_find_a_file_of_the_same_size_with_other_bytes():
    submission = _submission()
    name = submission.document.file.name
    original = default_storage.open(name).read()
    default_storage.delete(name)
    default_storage.save(name, ContentFile(original[:-1] + b"X"))

    assert [f for f in verify_stored_files() if f] == []  # same size: only the checksum sees it
    (finding,) = [f for f in verify_stored_files(checksums=True) if f]
    assert (finding.problem, finding.detail) == (Problem.CHECKSUM, "not the bytes uploaded")


def test_a_shared_piece_and_a_campaign_filter():
    shared = _submission(application=None, candidate=_submission().candidate)
    default_storage.delete(shared.document.file.name)

    (finding,) = [f for f in verify_stored_files() if f]
    assert finding.formation == "(shared)"
    assert list(verify_stored_files(campaign="OTHER")) == []


def test_a_storage_that_fails_is_a_finding_and_the_walk_goes_on(monkeypatch):
    _submission()
    _submission()

    def refuses(name):
        raise ConnectionError("bucket unreachable")

    monkeypatch.setattr(default_storage, "exists", refuses)

    findings = list(verify_stored_files())

    assert [f.problem for f in findings] == [Problem.UNREADABLE, Problem.UNREADABLE]
    assert findings[0].detail == "ConnectionError: bucket unreachable"


def test_queries_do_not_grow_with_files(django_assert_num_queries):
    for _ in range(3):
        _submission()

    with django_assert_num_queries(1):  # one chunk of CHUNK rows, documents and labels joined
        assert list(verify_stored_files()) == [None, None, None]
    assert CHUNK >= 100


def test_a_template_or_a_signature_lost_in_a_restore_is_named(capsys):
    # After a restore the candidates' pieces were all there while the piece type's template (candidates got a 404 on
    # "modèle") and a letter's signature (its letters went out unsigned, a log warning only) were not: both are named.

    kept = PieceTypeFactory(label="Fiche de voeux")
    kept.template.save("voeux.pdf", ContentFile(b"%PDF-1.4 template"))
    lost = PieceTypeFactory(label="Dossier complémentaire")
    lost.template.save("complementaire.pdf", ContentFile(b"%PDF-1.4 template"))
    PieceTypeFactory(label="Sans modèle")  # no file, nothing to check
    letter = DecisionLetterTemplate.objects.create(
        kind="LETTRE_ADM", centre=CentreFactory(), title="Admission en master", body="b"
    )
    letter.signature.save("signature.png", ContentFile(b"\x89PNG signature"))
    default_storage.delete(lost.template.name)
    default_storage.delete(letter.signature.name)

    with pytest.raises(CommandError) as raised:
        call_command("verify_stored_files")

    assert str(raised.value) == "3 file(s) checked, 2 missing or changed."
    assert capsys.readouterr().out.splitlines() == [
        f"MISSING    {lost.template.name}  piece template  «Dossier complémentaire»",
        f"MISSING    {letter.signature.name}  letter signature  «Admission en master»",
    ]
    assert list(verify_stored_files(campaign="OTHER")) == []
    call_command("verify_stored_files", "--campaign", "OTHER")  # a campaign's check leaves them out: no error


def test_the_reference_files_take_two_queries(django_assert_num_queries):
    for number in range(3):
        PieceTypeFactory().template.save(f"t{number}.pdf", ContentFile(b"%PDF-1.4"))

    with django_assert_num_queries(2):
        assert list(verify_reference_files()) == [None, None, None]
