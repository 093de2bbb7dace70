"""Attachments of outbox mails (ecandidat.attachments): recorded as references, read at each attempt through the
provider an app registered; a read failure delays the mail, never drops it nor sends it without its file; a file
that can never be had leaves the mail without it, and the row says so. A provider of this module stands for an
app's (the decision letters' is tested in applications/tests/test_letter_attachment.py)."""

import smtplib
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils import timezone

from ecandidat import attachments
from ecandidat.attachments import AttachmentRef, AttachmentUnavailable
from ecandidat.emails import deliver, enqueue_email, resend_emails, send_pending_mails
from ecandidat.models import OutboundEmail

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4 test attachment"
INSTITUTION = "Université de Perpignan"


class Files:
    """The test provider: the bytes of each key, or what reading it raises (once, or every time)."""

    def __init__(self):
        self.content: dict[str, bytes] = {}
        self.errors: list[Exception] = []  # raised by the next reads, in order
        self.reads = 0

    def __call__(self, key: str) -> bytes:
        self.reads += 1
        if self.errors:
            raise self.errors.pop(0)
        if key not in self.content:
            raise AttachmentUnavailable("object deleted")
        return self.content[key]


FILES = Files()
attachments.register("tests.files", FILES)


@pytest.fixture(autouse=True)
def _cold_content_types():
    """Deterministic query counts here and in the modules after this one (the admin caches content types)."""
    ContentType.objects.clear_cache()
    yield
    ContentType.objects.clear_cache()


@pytest.fixture(autouse=True)
def files():
    FILES.__init__()
    FILES.content["7"] = PDF
    return FILES


def ref(key: str = "7", filename: str = "lettre-admission.pdf", provider: str = "tests.files") -> AttachmentRef:
    return AttachmentRef(provider=provider, key=key, filename=filename, mimetype="application/pdf")


def _committed(django_capture_on_commit_callbacks, *refs: AttachmentRef) -> OutboundEmail:
    with django_capture_on_commit_callbacks(execute=True):
        email = enqueue_email(
            to="estelle@example.org",
            code="OUTBOX_CHECK",
            template_base="ecandidat/email/outbox_check",
            context={},
            language="fr",
            attachments=refs or [ref()],
        )
    email.refresh_from_db()
    return email


def _due_again(email: OutboundEmail) -> None:
    OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def pdf_parts(message) -> list[tuple[str, bytes]]:
    """The (file name, bytes) of the ``application/pdf`` parts of the MIME message really built for sending."""
    return [
        (part.get_filename(), part.get_payload(decode=True))
        for part in message.message().walk()
        if part.get_content_type() == "application/pdf"
    ]


def test_the_row_records_references_and_the_message_carries_the_file(django_capture_on_commit_callbacks, mailoutbox):
    email = _committed(django_capture_on_commit_callbacks)

    assert email.status == OutboundEmail.Status.SENT
    assert email.attachments == [
        {"provider": "tests.files", "key": "7", "filename": "lettre-admission.pdf", "mimetype": "application/pdf"}
    ]
    assert email.attachment_names == ["lettre-admission.pdf"]
    assert email.last_error == ""
    [message] = mailoutbox
    assert pdf_parts(message) == [("lettre-admission.pdf", PDF)]


def test_a_storage_failure_delays_the_mail_then_it_leaves_with_its_file(
    django_capture_on_commit_callbacks, mailoutbox, files
):
    files.errors.append(OSError("storage unreachable"))

    email = _committed(django_capture_on_commit_callbacks)

    assert email.status == OutboundEmail.Status.PENDING
    assert email.attempts == 1
    assert email.last_error == "AttachmentError: lettre-admission.pdf: OSError: storage unreachable"
    assert timedelta(seconds=50) < email.next_attempt_at - timezone.now() <= timedelta(minutes=1)
    assert mailoutbox == []  # never without the file it announces

    _due_again(email)
    assert send_pending_mails() == {"sent": 1}

    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == (OutboundEmail.Status.SENT, 2, "")
    [message] = mailoutbox
    assert pdf_parts(message) == [("lettre-admission.pdf", PDF)]


def test_an_smtp_failure_with_an_attachment_is_retried_and_the_file_read_again(
    django_capture_on_commit_callbacks, mailoutbox, mocker, files
):
    smtp = mocker.patch(
        "django.core.mail.EmailMultiAlternatives.send", side_effect=smtplib.SMTPServerDisconnected("gone")
    )
    email = _committed(django_capture_on_commit_callbacks)
    assert (email.status, email.last_error) == (OutboundEmail.Status.PENDING, "SMTPServerDisconnected: gone")
    mocker.stop(smtp)

    _due_again(email)
    assert deliver(email.pk) == "sent"

    assert files.reads == 2
    [message] = mailoutbox
    assert pdf_parts(message) == [("lettre-admission.pdf", PDF)]


def test_a_file_that_can_never_be_had_leaves_the_mail_without_it_and_says_so(
    django_capture_on_commit_callbacks, mailoutbox, settings
):
    settings.INSTITUTION_NAME = INSTITUTION  # whom to ask when the provider names no one
    email = _committed(django_capture_on_commit_callbacks, ref(), ref(key="8", filename="gone.pdf"))

    assert email.status == OutboundEmail.Status.SENT
    assert email.last_error == "Sent without its attachment: gone.pdf (object deleted)"
    [message] = mailoutbox
    assert pdf_parts(message) == [("lettre-admission.pdf", PDF)]
    # Its text may have announced the file: it says it could not be attached, and the row keeps the text as sent.
    notice = f"Le fichier gone.pdf n'a pas pu être joint à ce courriel. Pour l'obtenir, contactez {INSTITUTION}."
    assert message.body.rstrip().endswith("\n\n" + notice)
    assert email.body == message.body


def _missing_with_contact(key: str) -> bytes:
    raise AttachmentUnavailable("text deleted", contact="Commission Master Informatique (master-info@univ.example)")


attachments.register("tests.contact", _missing_with_contact)


def test_the_notice_is_in_the_mails_language_and_names_the_providers_contact(
    django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        email = enqueue_email(
            to="estelle@example.org",
            code="OUTBOX_CHECK",
            template_base="ecandidat/email/outbox_check",
            context={},
            language="en",
            attachments=[ref(provider="tests.contact", filename="admission-letter.pdf")],
        )

    [message] = mailoutbox
    assert message.body.rstrip().endswith(
        "The file admission-letter.pdf could not be attached to this e-mail. To obtain it, contact Commission Master "
        "Informatique (master-info@univ.example)."
    )
    email.refresh_from_db()
    assert email.last_error == "Sent without its attachment: admission-letter.pdf (text deleted)"


def test_the_html_version_says_it_too_escaped(mailoutbox):
    email = enqueue_email(
        to="estelle@example.org",
        code="OUTBOX_CHECK",
        template_base="ecandidat/email/outbox_check",
        context={},
        language="fr",
        attachments=[ref(key="8", filename="<b>gone</b>.pdf")],
    )
    OutboundEmail.objects.filter(pk=email.pk).update(html_body="<html><body><p>Bonjour</p></body></html>")

    assert deliver(email.pk) == "sent"

    [message] = mailoutbox
    [(html, _mimetype)] = message.alternatives
    assert html.startswith("<html><body><p>Bonjour</p><p>Le fichier &lt;b&gt;gone&lt;/b&gt;.pdf n&#x27;a pas pu")
    assert html.endswith("</p>\n</body></html>")
    email.refresh_from_db()
    assert email.html_body == html


def test_an_smtp_failure_leaves_the_text_as_queued_and_the_notice_comes_once(
    django_capture_on_commit_callbacks, mailoutbox, mocker
):
    """Fault injection: a file gone and the SMTP server down at the first attempt."""
    mocker.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=smtplib.SMTPServerDisconnected("down"))
    email = _committed(django_capture_on_commit_callbacks, ref(key="8", filename="gone.pdf"))
    queued = email.body
    assert email.status == OutboundEmail.Status.PENDING

    mocker.stopall()
    _due_again(email)
    assert deliver(email.pk) == "sent"

    email.refresh_from_db()
    assert email.body.startswith(queued.rstrip())
    assert email.body.count("gone.pdf") == 1
    [message] = mailoutbox
    assert message.body == email.body


def test_an_unknown_provider_keeps_the_mail_waiting(django_capture_on_commit_callbacks, mailoutbox):
    """A worker still running the code before the provider existed: retried, not sent without the file."""
    email = _committed(django_capture_on_commit_callbacks, ref(provider="tests.nobody"))

    assert email.status == OutboundEmail.Status.PENDING
    assert "no attachment provider tests.nobody" in email.last_error
    assert mailoutbox == []


def test_resend_keeps_the_attachments(django_capture_on_commit_callbacks, mailoutbox, files, central_manager):
    files.errors.append(OSError("storage unreachable"))
    email = _committed(django_capture_on_commit_callbacks)
    OutboundEmail.objects.filter(pk=email.pk).update(status=OutboundEmail.Status.FAILED)

    with django_capture_on_commit_callbacks(execute=True):
        resend_emails(emails=[email], actor=central_manager)

    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT
    assert email.attachment_names == ["lettre-admission.pdf"]
    [message] = mailoutbox
    assert pdf_parts(message) == [("lettre-admission.pdf", PDF)]


def test_a_mail_whose_file_never_comes_is_resent_without_it(
    client, django_capture_on_commit_callbacks, mailoutbox, files, central_manager
):
    """The way out when a file can never be read (a letter whose build fails every time, review finding): the
    central office resends the failed mail without its attachments; the admin history says which files and who."""
    files.errors.extend([OSError("build fails")] * 5)  # the first attempt fails, and any resend with the file
    email = _committed(django_capture_on_commit_callbacks)
    OutboundEmail.objects.filter(pk=email.pk).update(status=OutboundEmail.Status.FAILED)  # past its horizon
    assert mailoutbox == []
    client.force_login(central_manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:ecandidat_outboundemail_changelist"),
            {"action": "resend_without_attachments", "_selected_action": [email.pk]},
            language="en",  # the history is in the institution's language all the same
        )

    assert response.status_code == 302
    email.refresh_from_db()
    assert (email.status, email.attachments) == (OutboundEmail.Status.SENT, [])
    assert email.resent_by == central_manager
    entry = LogEntry.objects.get(object_id=str(email.pk))
    assert (entry.user, entry.change_message) == (
        central_manager,
        "Renvoyé sans ses pièces jointes : lettre-admission.pdf.",
    )
    [message] = mailoutbox
    assert pdf_parts(message) == []
    # Its text announced the file: it now says it could not be attached.
    assert "Le fichier lettre-admission.pdf n'a pas pu être joint à ce courriel." in message.body
    assert email.body == message.body


@pytest.mark.parametrize("count", [1, 3])
def test_resending_without_attachments_is_set_based(
    client, django_capture_on_commit_callbacks, files, central_manager, django_assert_num_queries, settings, count
):
    """Review finding: one UPDATE per mail. The same queries for one mail or many (one UPDATE, one history INSERT),
    and each row still gets its own text, actor and history entry naming its own files."""
    files.errors.extend([OSError("build fails")] * (count + 1))
    emails = [
        _committed(django_capture_on_commit_callbacks, ref(filename=f"lettre-{index}.pdf")) for index in range(count)
    ]
    OutboundEmail.objects.update(status=OutboundEmail.Status.FAILED)
    client.force_login(central_manager)

    # Session, user, savepoint, memberships, count, selection; the service's savepoint, lock, one update, release;
    # the history's content type and rows (one insert); release. The attempts follow the commit (not run here).
    with django_assert_num_queries(13), django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            reverse("admin:ecandidat_outboundemail_changelist"),
            {"action": "resend_without_attachments", "_selected_action": [email.pk for email in emails]},
        )

    assert response.status_code == 302
    assert len(callbacks) == count
    for index, email in enumerate(emails):
        email.refresh_from_db()
        assert (email.status, email.attachments, email.resent_by) == (
            OutboundEmail.Status.PENDING,
            [],
            central_manager,
        )
        assert email.body.rstrip().endswith(
            f"Le fichier lettre-{index}.pdf n'a pas pu être joint à ce courriel. Pour l'obtenir, contactez "
            f"{settings.INSTITUTION_NAME}."
        )
        entry = LogEntry.objects.get(object_id=str(email.pk))
        assert (entry.user, entry.change_message) == (
            central_manager,
            f"Renvoyé sans ses pièces jointes : lettre-{index}.pdf.",
        )


def test_a_provider_name_is_registered_once():
    attachments.register("tests.files", FILES)  # the same one again: nothing

    with pytest.raises(ImproperlyConfigured, match="registered twice"):
        attachments.register("tests.files", Files())


# --- the admin ---------------------------------------------------------------------------------------------------


def test_the_outbox_admin_shows_the_attachment_names(
    client, central_manager, django_capture_on_commit_callbacks, django_assert_num_queries
):
    email = _committed(django_capture_on_commit_callbacks, ref(), ref(key="7", filename="annexe.pdf"))
    client.force_login(central_manager)

    # Session, user, savepoint, memberships, count, permissions (2), rows, release, the filter's codes.
    with django_assert_num_queries(10):
        listing = client.get(reverse("admin:ecandidat_outboundemail_changelist"))
    with django_assert_num_queries(9):  # session, user, savepoint, row, memberships, permissions (2), type, release
        page = client.get(reverse("admin:ecandidat_outboundemail_change", args=[email.pk]))

    for response in (listing, page):
        html = response.content.decode()
        assert "lettre-admission.pdf, annexe.pdf" in html
        assert "tests.files" not in html  # the names, not the references


@pytest.mark.parametrize("persona", ["centre_manager", "commission_member"])
def test_only_the_central_office_sees_the_outbox_rows(
    client, request, persona, django_capture_on_commit_callbacks, django_assert_num_queries
):
    email = _committed(django_capture_on_commit_callbacks)
    client.force_login(request.getfixturevalue(persona))

    with django_assert_num_queries(7):  # session, user, savepoint, the row, memberships, rollback, release
        response = client.get(reverse("admin:ecandidat_outboundemail_change", args=[email.pk]))

    # A manager keeps Django's 403; a commission member, never offered the outbox, does not find it (as an outsider).
    assert response.status_code == (403 if persona == "centre_manager" else 404)
