import datetime

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from applications.models import DecisionLetter
from applications.services import pieces as services
from applications.tests.factories_candidature import DecisionFactory, decision_type
from documents.tests import hostile_files as hostile
from documents.tests.storage import stored_files
from ecandidat.batches import BatchAlreadyRunning
from ecandidat.models import BatchRun
from offers.enums import Avis
from offers.models import DecisionLetterTemplate
from offers.tests.factories import PieceTypeFactory


def test_remove_orphan_files_deletes_only_old_unreferenced_campaign_files(application, piece, time_machine, capsys):
    code = application.campaign.code
    services.upload_piece(
        application=application,
        piece_type=piece,
        uploaded_file=hostile.valid_pdf_upload(),
        actor=application.created_by,
    )
    kept = stored_files()[0]
    orphan = default_storage.save(f"{code}/orphan.pdf", ContentFile(b"%PDF"))
    # Outside every prefix the sweep knows (the campaigns', the quarantine, those registered with
    # register_file_owner): never touched. ("piece-templates/" was such a prefix until the templates got an owner.)
    outside = default_storage.save("elsewhere/model.pdf", ContentFile(b"%PDF"))
    time_machine.move_to(datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=2))
    recent = default_storage.save(f"{code}/in-flight.pdf", ContentFile(b"%PDF"))

    call_command("remove_orphan_files", "--dry-run")
    assert orphan in capsys.readouterr().out
    assert default_storage.exists(orphan)

    call_command("remove_orphan_files")

    assert sorted(stored_files()) == sorted([kept, outside, recent])


def test_remove_orphan_files_sweeps_letters_and_packs_no_row_holds(application, time_machine):
    """A letter or pack build whose transaction rolled back leaves its file behind: the sweep deletes it; the files
    that a DecisionLetter or a CommissionPack row holds stay."""
    held = default_storage.save("letters/1/held.pdf", ContentFile(b"%PDF"))
    letter_orphan = default_storage.save("letters/1/rolled-back.pdf", ContentFile(b"%PDF"))
    pack_orphan = default_storage.save("packs/rolled-back.zip", ContentFile(b"PK"))
    decision = DecisionFactory(application=application, decision_type=decision_type(Avis.FAVOURABLE))
    DecisionLetter.objects.create(
        application=application, decision=decision, kind="LETTRE_ADM", file=held, generated_at=timezone.now()
    )
    time_machine.move_to(datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=2))

    call_command("remove_orphan_files")

    assert default_storage.exists(held)
    assert not default_storage.exists(letter_orphan)
    assert not default_storage.exists(pack_orphan)


def test_remove_orphan_files_sweeps_the_piece_templates_no_piece_type_holds(piece, time_machine):
    """A template replaced in its piece type's form, or whose piece type was deleted, stayed in storage for ever
    ("piece-templates/" was no prefix of the sweep): it is deleted now; a template a piece type holds stays, also one
    stored directly in "piece-templates/" before the templates had their folders."""
    piece.template.save("attestation.pdf", ContentFile(b"%PDF"))
    replaced = piece.template.name
    piece.template.save("attestation-2026.pdf", ContentFile(b"%PDF"))  # the form's replacement deletes no file
    legacy = PieceTypeFactory(
        code="LEGACY", template=default_storage.save("piece-templates/fiche.pdf", ContentFile(b"%PDF"))
    )
    gone = PieceTypeFactory(code="GONE")
    gone.template.save("ancien.pdf", ContentFile(b"%PDF"))
    gone_file = gone.template.name
    gone.delete()
    time_machine.move_to(datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=2))

    call_command("remove_orphan_files")

    assert default_storage.exists(piece.template.name)
    assert default_storage.exists(legacy.template.name)
    assert not default_storage.exists(replaced)
    assert not default_storage.exists(gone_file)


def test_remove_orphan_files_keeps_the_letter_templates_signatures(application, time_machine):
    """A centre's signature image lives in "letters/signatures/", under the letters' prefix: the sweep deleted it the
    night after its upload, and every letter was then built without it."""
    template = DecisionLetterTemplate.objects.create(
        centre=application.formation.centre, kind=DecisionLetterTemplate.Kind.ADMISSION, title="Admission", body="x"
    )
    template.signature = default_storage.save("letters/signatures/signature.png", ContentFile(b"\x89PNG"))
    template.save()
    unused = default_storage.save("letters/signatures/replaced.png", ContentFile(b"\x89PNG"))
    time_machine.move_to(datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=2))

    call_command("remove_orphan_files")

    assert default_storage.exists(template.signature.name)
    assert not default_storage.exists(unused)  # a signature no template holds any more is still swept


def test_remove_orphan_files_is_a_batch_recorded_single_and_limited(application, time_machine):
    """Like every nightly batch (README, "Nightly batches"): its run is in the batch history, a second run refuses to
    start while one runs, and --limit bounds it (it was a plain command: no history, no lock, no --limit)."""
    code = application.campaign.code
    first = default_storage.save(f"{code}/orphan-1.pdf", ContentFile(b"%PDF"))
    second = default_storage.save(f"{code}/orphan-2.pdf", ContentFile(b"%PDF"))
    time_machine.move_to(datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=2))

    call_command("remove_orphan_files", "--dry-run")
    dry = BatchRun.objects.get(name="remove_orphan_files")
    assert (dry.dry_run, dry.status, dry.counts) == (True, BatchRun.Status.FINISH, {"orphan files to delete": 2})

    call_command("remove_orphan_files", "--limit", "1")
    assert [default_storage.exists(name) for name in (first, second)].count(True) == 1
    run = BatchRun.objects.filter(dry_run=False).get(name="remove_orphan_files")
    assert (run.status, run.counts) == (BatchRun.Status.FINISH, {"orphan files deleted": 1})

    BatchRun.objects.create(name="remove_orphan_files")
    with pytest.raises(BatchAlreadyRunning):
        call_command("remove_orphan_files")
    assert [default_storage.exists(name) for name in (first, second)].count(True) == 1
