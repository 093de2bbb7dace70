"""``remove_orphan_files``: a storage hiccup on one orphan is reported, and the other orphans still go.

Review finding: no test failed when the command's ``try``/``except`` around ``default_storage.delete`` was removed
(the first refusal then ended the batch, leaving every later orphan, files of candidates, in storage).
"""

import datetime
import io

from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage, default_storage
from django.core.management import call_command

from applications.services import pieces as services
from documents.tests import hostile_files as hostile
from documents.tests.storage import stored_files
from ecandidat.models import BatchRun


def test_a_storage_hiccup_on_one_orphan_is_reported_and_the_others_still_go(
    application, piece, time_machine, monkeypatch
):
    code = application.campaign.code
    services.upload_piece(
        application=application,
        piece_type=piece,
        uploaded_file=hostile.valid_pdf_upload(),
        actor=application.created_by,
    )
    [held] = stored_files()
    orphans = {default_storage.save(f"{code}/orphan-{n}.pdf", ContentFile(b"%PDF")) for n in range(3)}
    time_machine.move_to(datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=2))
    refused: list[str] = []
    delete = InMemoryStorage.delete

    def delete_refusing_the_first(storage, name):
        if not refused:  # whichever orphan comes first: the ones after it must still go
            refused.append(name)
            raise OSError("the storage did not answer")
        delete(storage, name)

    monkeypatch.setattr(InMemoryStorage, "delete", delete_refusing_the_first)
    out, err = io.StringIO(), io.StringIO()

    call_command("remove_orphan_files", stdout=out, stderr=err)

    [name] = refused
    assert name in orphans
    assert sorted(stored_files()) == sorted([held, name])
    message = f"{name}: OSError: the storage did not answer"
    assert err.getvalue() == f"{message}\n"
    assert sorted(out.getvalue().splitlines()[:-1]) == sorted(orphans - {name})
    assert out.getvalue().splitlines()[-1] == "remove_orphan_files: orphan files deleted: 2"
    run = BatchRun.objects.get(name="remove_orphan_files")
    assert (run.status, run.counts, run.errors) == (BatchRun.Status.ERROR, {"orphan files deleted": 2}, message)
