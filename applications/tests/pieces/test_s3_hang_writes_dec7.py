"""A bucket that stops answering costs a request one storage call's time budget at most, not one per file: a write
that failed is not followed by a delete in the same request (its leftover, if any, is the orphan sweep's), and the
files of rows deleted (an account's « Suppression CNIL ») are deleted by the worker after the commit, not by the
request.

Before: a candidate replacing a piece while the bucket hung waited for the save's HEAD twice, then for the DELETE of
what it had not written twice (80 s with production's limits: gunicorn killed the worker at 60 s, nginx answered 502
instead of « rien n'a été enregistré, envoyez-le à nouveau »); an account deletion waited for each of its files'
DELETE after its commit (40 s each: a 502 for a deletion that had committed).

A proxy over real sockets between the application and moto_server (a separate process; this module's rule over
``documents.tests.s3_peer.S3Proxy``) records every call to the bucket and holds those the test says, never answering
them (a PUT after it reached the bucket: the object landed, its answer lost); the storage is the one
``ecandidat.settings.base`` builds from the environment, with 1 s time limits so that a hang is quick. The same
rules without a bucket, with a storage whose calls raise botocore's ``ReadTimeoutError`` (as ``make test-unit``
runs them), end the module."""

import datetime
import io
import time

import pytest
from botocore.exceptions import ReadTimeoutError  # type: ignore[import-untyped]
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage, default_storage
from django.core.management import call_command
from django.urls import reverse
from kombu.exceptions import OperationalError

from accounts.models import User
from applications.letters import build_letter
from applications.models import DecisionLetter, PieceSubmission
from applications.tests.factories_candidature import DocumentFactory, application_of
from applications.tests.helpers import post_file, released
from documents import tasks
from documents.models import Document
from documents.storage import DEPLOYMENT_MARKER, delete_files_on_commit
from documents.tests import hostile_files as hostile
from documents.tests.s3_peer import S3Proxy, call_budget, production_storage
from ecandidat.celery import app
from ecandidat.downloads import STORAGE_RETRY_AFTER_SECONDS, StorageUnavailable
from offers.models import DecisionLetterTemplate

ERASURE_PAGE = "admin:applications_candidate_delete_account"
# The storage-unavailable page after a form sent, in French.
NOT_SAVED = "ce que vous avez envoyé n'a pas été enregistré. Renvoyez-le"


class HangingProxy(S3Proxy):
    """Passes every call on to moto_server and records it. A call whose method is in ``hanging`` gets no answer until
    ``stop()``: a PUT after it was passed on (the object is in the bucket, the answer never comes), any other call
    without being passed on."""

    attempts: int
    budget: float

    def __init__(self, upstream: str):
        self.hanging: set[str] = set()
        super().__init__(upstream)

    def plan(self, method: str, key: str) -> str:
        if method not in self.hanging:
            return "pass"
        return "hold_after" if method == "PUT" else "hold"


@pytest.fixture
def proxy(s3_server, bucket, settings, monkeypatch):
    """The test's bucket reached through the proxy, with production's storage options."""
    proxy = HangingProxy(s3_server.endpoint_url)
    default = production_storage(monkeypatch, bucket=bucket, endpoint_url=proxy.endpoint_url)
    settings.STORAGES = {**settings.STORAGES, "default": default}
    proxy.attempts, proxy.budget = call_budget(default)  # one call's time budget, as the README promises it
    yield proxy
    proxy.stop()


@pytest.fixture
def published(monkeypatch):
    """The broker as in production (tasks are not run in-process): what is handed to it for the worker's deletion of
    stored files, as (args, kwargs, options)."""
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    messages: list[tuple[tuple, dict, dict]] = []

    def apply_async(task, args=None, kwargs=None, **options):
        messages.append((tuple(args or ()), dict(kwargs or {}), options))

    monkeypatch.setattr(_task_class(), "apply_async", apply_async)
    return messages


def _task_class() -> type:
    return type(tasks.delete_stored_files._get_current_object())


def keys(s3_server, bucket) -> list[str]:
    """The bucket's objects but the deployment marker the sweep writes at its root (documents.storage)."""
    listed = s3_server.client().list_objects_v2(Bucket=bucket).get("Contents", [])
    return sorted(o["Key"] for o in listed if o["Key"] != DEPLOYMENT_MARKER)


def sweep(time_machine) -> str:
    """The nightly ``remove_orphan_files``, two hours later (past its hour of grace); what it printed."""
    time_machine.move_to(datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=2), tick=True)
    out = io.StringIO()
    call_command("remove_orphan_files", stdout=out, stderr=io.StringIO())
    return out.getvalue()


# --- a write that fails ----------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_a_replacement_while_the_bucket_hangs_makes_one_call_and_is_refused_in_french(
    owner, application, piece, proxy, s3_server, bucket
):
    assert post_file(owner, application, piece, hostile.valid_pdf_upload("relevé.pdf")).status_code == 302
    [held] = keys(s3_server, bucket)
    proxy.forget()
    proxy.hanging = {"HEAD", "PUT", "DELETE"}
    owner.raise_request_exception = False
    url = reverse("pieces:upload", args=[application.public_id, piece.pk])

    start = time.monotonic()
    response = owner.post(url, {"file": hostile.valid_pdf_upload("nouveau.pdf")}, language="fr")
    elapsed = time.monotonic() - start

    assert response.status_code == 503
    assert response["Retry-After"] == str(STORAGE_RETRY_AFTER_SECONDS)
    assert NOT_SAVED in response.content.decode()
    # The save's HEAD, botocore's attempts of that one call: no DELETE after it (it doubled the time).
    assert proxy.methods() == ["HEAD"] * proxy.attempts
    assert elapsed < proxy.budget
    assert PieceSubmission.objects.get().document.file.name == held  # nothing changed
    assert keys(s3_server, bucket) == [held]


@pytest.mark.integration
def test_an_object_the_failed_put_left_in_the_bucket_is_swept(
    owner, application, piece, proxy, s3_server, bucket, time_machine
):
    """The PUT reached the bucket, its answer never came: the request does not delete what it may have written, and
    the nightly sweep finds it under the campaign's prefix with no row holding it."""
    assert post_file(owner, application, piece, hostile.valid_pdf_upload("relevé.pdf")).status_code == 302
    [held] = keys(s3_server, bucket)
    proxy.forget()
    proxy.hanging = {"PUT", "DELETE"}
    owner.raise_request_exception = False

    response = post_file(owner, application, piece, hostile.valid_pdf_upload("nouveau.pdf"))

    assert response.status_code == 503
    assert proxy.methods() == ["HEAD"] + ["PUT"] * proxy.attempts
    [landed] = set(keys(s3_server, bucket)) - {held}
    assert landed.startswith(f"{application.campaign.code}/")
    assert not Document.objects.filter(file=landed).exists()

    proxy.hanging = set()
    assert landed in sweep(time_machine).splitlines()
    assert keys(s3_server, bucket) == [held]


@pytest.mark.integration
def test_a_letter_whose_put_hangs_is_not_deleted_in_the_build_and_is_swept(
    formation, campaign, centre, centre_manager, proxy, s3_server, bucket, time_machine
):
    """The same in ``_write_letter`` (a download builds a letter the worker has not built yet)."""
    DecisionLetterTemplate.objects.create(
        kind=DecisionLetterTemplate.Kind.ADMISSION, centre=centre, title="Lettre", body="Vous êtes admis(e)."
    )
    released(formation, campaign, centre_manager)  # its build is queued after a commit this test never makes
    letter = DecisionLetter.objects.get()
    assert not letter.file
    proxy.forget()
    proxy.hanging = {"PUT", "DELETE"}

    with pytest.raises(StorageUnavailable):
        build_letter(letter.pk)

    assert "DELETE" not in proxy.methods()
    assert proxy.methods().count("PUT") == proxy.attempts
    [landed] = keys(s3_server, bucket)
    assert landed.startswith("letters/")
    letter.refresh_from_db()
    assert not letter.file

    proxy.hanging = set()
    assert landed in sweep(time_machine).splitlines()
    assert keys(s3_server, bucket) == []


# --- files of rows deleted ------------------------------------------------------------------------------------------


@pytest.fixture
def three_files(candidate_user, formation, campaign, proxy, s3_server, bucket):
    """``candidate_user`` with an application and three files they uploaded, in the bucket."""
    application_of(candidate_user, formation)
    for _ in range(3):
        DocumentFactory(uploaded_by=candidate_user, campaign_code=campaign.code)
    names = keys(s3_server, bucket)
    assert len(names) == 3
    return names


def _delete_account(client, central_manager, user, django_capture_on_commit_callbacks):
    """« Suppression CNIL » from its page; the request and what runs after its commit; how long it took."""
    client.force_login(central_manager)
    numero = user.username
    start = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse(ERASURE_PAGE), {"numero": numero, "what": "everything", "confirmation": numero.lower()}
        )
    elapsed = time.monotonic() - start
    assert response.status_code == 302
    assert not User.objects.filter(pk=user.pk).exists()
    return elapsed


@pytest.mark.integration
def test_an_account_deletion_leaves_its_files_to_the_worker_and_waits_for_no_bucket(
    client,
    central_manager,
    candidate_user,
    three_files,
    proxy,
    s3_server,
    bucket,
    published,
    django_capture_on_commit_callbacks,
):
    proxy.forget()
    proxy.hanging = {"HEAD", "GET", "PUT", "DELETE", "POST"}

    elapsed = _delete_account(client, central_manager, candidate_user, django_capture_on_commit_callbacks)

    assert proxy.methods() == []  # no call to the bucket in the request, nor after its commit
    assert elapsed < proxy.budget
    [(args, kwargs, options)] = published  # one task for the account's files
    assert sorted(args[0]) == three_files
    assert keys(s3_server, bucket) == three_files

    proxy.hanging = set()
    tasks.delete_stored_files(*args, **kwargs)  # the worker

    assert keys(s3_server, bucket) == []


@pytest.mark.integration
def test_with_the_broker_down_the_files_of_a_deleted_account_are_swept(
    client,
    central_manager,
    candidate_user,
    three_files,
    proxy,
    s3_server,
    bucket,
    published,
    monkeypatch,
    django_capture_on_commit_callbacks,
    time_machine,
):
    def refused(*args, **kwargs):
        raise OperationalError("Connection refused")

    monkeypatch.setattr(_task_class(), "apply_async", refused)
    proxy.forget()

    _delete_account(client, central_manager, candidate_user, django_capture_on_commit_callbacks)

    assert proxy.methods() == []
    assert keys(s3_server, bucket) == three_files  # the task was not queued: nothing lost, the sweep's
    assert sorted(sweep(time_machine).splitlines()[:-1]) == three_files
    assert keys(s3_server, bucket) == []


@pytest.mark.integration
def test_the_worker_stops_at_the_first_delete_the_bucket_does_not_answer_and_tries_again_later(
    three_files, proxy, s3_server, bucket, published
):
    """One time budget per run of the task, whatever the number of files (it would pass the task's time limit); the
    rest are queued again a few minutes later, then go."""
    proxy.forget()
    proxy.hanging = {"DELETE"}

    assert tasks.delete_stored_files(three_files) == 0

    assert proxy.methods() == ["DELETE"] * proxy.attempts
    [(args, kwargs, options)] = published
    assert (args, kwargs) == ((three_files,), {"attempt": 2})
    assert options["countdown"] == tasks.DELETE_RETRY_AFTER.total_seconds()

    proxy.hanging = set()
    assert tasks.delete_stored_files(*args, **kwargs) == 3
    assert keys(s3_server, bucket) == []


@pytest.mark.integration
def test_the_worker_gives_the_files_to_the_sweep_after_its_last_attempt(three_files, proxy, s3_server, published):
    proxy.hanging = {"DELETE"}

    assert tasks.delete_stored_files(three_files, attempt=tasks.DELETE_ATTEMPTS) == 0

    assert published == []  # not queued again: the nightly remove_orphan_files deletes them


# --- the same without a bucket: a storage whose calls time out ------------------------------------------------------


class TimingOut:
    """Replaces a method of the in-memory storage with one that counts its calls and raises what botocore raises after
    its attempts at a bucket that does not answer."""

    def __init__(self, monkeypatch, method: str):
        self.calls: list[str] = []

        def timing_out(storage, name, *args):
            self.calls.append(name)
            raise ReadTimeoutError(endpoint_url=f"http://bucket.invalid/{name}")

        monkeypatch.setattr(InMemoryStorage, method, timing_out)


def test_a_write_that_timed_out_is_refused_without_a_delete(owner, application, piece, monkeypatch):
    save, delete = TimingOut(monkeypatch, "_save"), TimingOut(monkeypatch, "delete")
    owner.raise_request_exception = False
    url = reverse("pieces:upload", args=[application.public_id, piece.pk])

    response = owner.post(url, {"file": hostile.valid_pdf_upload("relevé.pdf")}, language="fr")

    assert response.status_code == 503
    assert NOT_SAVED in response.content.decode()
    assert len(save.calls) == 1
    assert delete.calls == []
    assert not Document.objects.exists()


def test_in_process_the_deletion_after_commit_stops_at_the_first_call_that_timed_out(
    campaign, monkeypatch, django_capture_on_commit_callbacks
):
    """Tasks run in-process (``make run`` without Redis; the tests), the worker's deletion runs after the commit of
    the request: one call that times out, not one per file, and not queued again (it would wait in that request)."""
    names = [default_storage.save(f"{campaign.code}/p{n}.pdf", ContentFile(b"%PDF")) for n in range(3)]
    delete = TimingOut(monkeypatch, "delete")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        delete_files_on_commit(names)

    assert len(callbacks) == 1  # one task for the three files
    assert delete.calls == names[:1]
