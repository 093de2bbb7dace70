import datetime

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from applications.services import pieces as services
from documents.tests import hostile_files as hostile
from documents.tests.storage import stored_files


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
    outside = default_storage.save("piece-templates/model.pdf", ContentFile(b"%PDF"))
    time_machine.move_to(datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=2))
    recent = default_storage.save(f"{code}/in-flight.pdf", ContentFile(b"%PDF"))

    call_command("remove_orphan_files", "--dry-run")
    assert orphan in capsys.readouterr().out
    assert default_storage.exists(orphan)

    call_command("remove_orphan_files")

    assert sorted(stored_files()) == sorted([kept, outside, recent])
