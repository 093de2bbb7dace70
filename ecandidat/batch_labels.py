"""The batch history in the reader's language (eCandidat's « Historique des batchs » names each batch by its label).

A run is stored with its command's name and its counts keyed by English words, as the command's output and the
nightly log write them (they stay stable for ops and their scripts). The admin shows the batch's label and each
count's words translated: ``COUNT_WORDS`` lists every word a batch counts (in the context « batch count »: « clean »
counts files, « sains », where the same word elsewhere is « sain ») (``ecandidat/tests/test_batch_labels.py``
checks that every literal key of a ``report.add`` is listed, so a new count cannot reach the page in English).
"""

from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

# eCandidat's labels where the batch exists there (BATCH_MAJ_GESTIONNAIRE, BATCH_NETTOYAGE_CPT, …).
BATCH_LABELS = {
    "nightly": _("Nightly batches, in order"),
    "refresh_staff_directory": _("Staff directory refresh"),
    "purge_unvalidated_accounts": _("Removal of unvalidated accounts"),
    "refresh_reference_data": _("Reference lists from the student records system"),
    "sync_sis": _("Student records synchronisation"),
    "sync_complementary_forms": _("Complementary forms synchronisation (LimeSurvey)"),
    "remind_transmission": _("Reminders of applications not transmitted"),
    "remind_favourable_decisions": _("Reminders of unconfirmed favourable decisions"),
    "withdraw_expired_confirmations": _("Automatic withdrawal of applications"),
    "recompute_waiting_list_ranks": _("Actual ranks on the waiting lists"),
    "mail_waiting_list_progress": _("Waiting-list progress mails"),
    "transfer_opi": _("Transfer of the OPIs"),
    "archive_campaigns": _("Campaign archiving"),
    "destroy_archived_campaigns": _("Destruction of archived dossiers"),
    "rescan_documents": _("Antivirus re-scan of the pieces"),
    "remove_orphan_files": _("Removal of orphan files"),
    "prune_login_history": _("Removal of old login lines"),
    "prune_opi_files": _("Removal of old OPI files"),
    "prune_outbox": _("Removal of old sent mails"),
    "prune_batch_history": _("Removal of old batch history"),
}

# Not batches (no run in « Historique des batchs »): the automatic sources an application's history row names when
# nobody acted (found by review: the reading page showed « traitement « scan_document » »). The antivirus scan after
# an upload (documents.scanning.SCAN_TASK), a decision letter built again because its file was gone
# (applications.letters: by its mail's delivery, the candidate's download, a staff download); a staff account's
# change at its ENT login.
SOURCE_LABELS = {
    "scan_document": _("Antivirus scan at upload"),
    "send_outbound_email": _("Sending of its mail"),
    "letter_download": _("Download by the candidate"),
    "letter_staff_download": _("Download from the back office"),
    # A staff account refreshed or deactivated at its ENT login (accounts.directory, « Modifications de l'annuaire »).
    "ent_login": _("ENT login"),
}

COUNT_WORDS = {
    # nightly (its errors: the names of the batches that failed)
    "batches run": pgettext_lazy("batch count", "batches run"),
    # refresh_staff_directory
    "skipped, no directory configured (LDAP_URL)": pgettext_lazy(
        "batch count", "skipped, no directory configured (LDAP_URL)"
    ),
    "staff accounts checked": pgettext_lazy("batch count", "staff accounts checked"),
    "accounts to refresh": pgettext_lazy("batch count", "accounts to refresh"),
    "accounts refreshed": pgettext_lazy("batch count", "accounts refreshed"),
    "accounts to deactivate": pgettext_lazy("batch count", "accounts to deactivate"),
    "accounts deactivated": pgettext_lazy("batch count", "accounts deactivated"),
    "local accounts kept (not in the directory, with a password)": pgettext_lazy(
        "batch count", "local accounts kept (not in the directory, with a password)"
    ),
    "accounts kept, their uid ambiguous in the directory": pgettext_lazy(
        "batch count", "accounts kept, their uid ambiguous in the directory"
    ),
    # purge_unvalidated_accounts, destroy_archived_campaigns
    "accounts to delete": pgettext_lazy("batch count", "accounts to delete"),
    "accounts deleted": pgettext_lazy("batch count", "accounts deleted"),
    "accounts kept": pgettext_lazy("batch count", "accounts kept"),
    # refresh_reference_data, whose keys read « <list>: <what> »
    "countries": pgettext_lazy("batch count", "countries"),
    "communes": pgettext_lazy("batch count", "communes"),
    "schools": pgettext_lazy("batch count", "schools"),
    "bac_series": pgettext_lazy("batch count", "bac_series"),
    "bac_specialities": pgettext_lazy("batch count", "bac_specialities"),
    "not provided by the backend": pgettext_lazy("batch count", "not provided by the backend"),
    "skipped, commune unknown": pgettext_lazy("batch count", "skipped, commune unknown"),
    "received": pgettext_lazy("batch count", "received"),
    "hidden": pgettext_lazy("batch count", "hidden"),
    "countries without ISO code": pgettext_lazy("batch count", "countries without ISO code"),
    # sync_sis
    "dossiers to refresh": pgettext_lazy("batch count", "dossiers to refresh"),
    "dossiers refreshed": pgettext_lazy("batch count", "dossiers refreshed"),
    "students not found": pgettext_lazy("batch count", "students not found"),
    # sync_complementary_forms
    "LimeSurvey not configured (LIMESURVEY_URL): skipped": pgettext_lazy(
        "batch count", "LimeSurvey not configured (LIMESURVEY_URL): skipped"
    ),
    "surveys read": pgettext_lazy("batch count", "surveys read"),
    "responses read": pgettext_lazy("batch count", "responses read"),
    "numbers out of range left empty": pgettext_lazy("batch count", "numbers out of range left empty"),
    "answers nested too deeply (left out)": pgettext_lazy("batch count", "answers nested too deeply (left out)"),
    "responses naming an unknown application": pgettext_lazy("batch count", "responses naming an unknown application"),
    "responses naming an unknown candidate": pgettext_lazy("batch count", "responses naming an unknown candidate"),
    "responses with an unreadable submit date (ignored)": pgettext_lazy(
        "batch count", "responses with an unreadable submit date (ignored)"
    ),
    "responses of a past campaign (ignored)": pgettext_lazy("batch count", "responses of a past campaign (ignored)"),
    "answers stored": pgettext_lazy("batch count", "answers stored"),
    "answers updated": pgettext_lazy("batch count", "answers updated"),
    "answers holding characters the database refuses (replaced by ?)": pgettext_lazy(
        "batch count", "answers holding characters the database refuses (replaced by ?)"
    ),
    # remind_transmission, remind_favourable_decisions
    "reminders to send": pgettext_lazy("batch count", "reminders to send"),
    "reminders sent": pgettext_lazy("batch count", "reminders sent"),
    "transmitted, changed or busy meanwhile": pgettext_lazy("batch count", "transmitted, changed or busy meanwhile"),
    "already reminded or answered": pgettext_lazy("batch count", "already reminded or answered"),
    "reminders not sent, campaign closed to candidates": pgettext_lazy(
        "batch count", "reminders not sent, campaign closed to candidates"
    ),
    # withdraw_expired_confirmations
    "favourable decisions given after their confirmation date (set a date)": pgettext_lazy(
        "batch count", "favourable decisions given after their confirmation date (set a date)"
    ),
    "favourable decisions whose confirmation date is after the campaign's closing date for candidates (reopen the "
    "campaign and set a date)": pgettext_lazy(
        "batch count",
        "favourable decisions whose confirmation date is after the campaign's closing date for candidates (reopen the "
        "campaign and set a date)",
    ),
    "applications to withdraw": pgettext_lazy("batch count", "applications to withdraw"),
    "answered meanwhile": pgettext_lazy("batch count", "answered meanwhile"),
    "confirmation date changed meanwhile": pgettext_lazy("batch count", "confirmation date changed meanwhile"),
    "applications withdrawn": pgettext_lazy("batch count", "applications withdrawn"),
    "places left to staff (campaign closed to candidates, promote by hand)": pgettext_lazy(
        "batch count", "places left to staff (campaign closed to candidates, promote by hand)"
    ),
    "candidates promoted from the waiting list": pgettext_lazy(
        "batch count", "candidates promoted from the waiting list"
    ),
    # recompute_waiting_list_ranks, mail_waiting_list_progress
    "formations to rank": pgettext_lazy("batch count", "formations to rank"),
    "formations ranked": pgettext_lazy("batch count", "formations ranked"),
    "ranked applications": pgettext_lazy("batch count", "ranked applications"),
    "progress mails to send": pgettext_lazy("batch count", "progress mails to send"),
    "rank changed meanwhile": pgettext_lazy("batch count", "rank changed meanwhile"),
    "progress mails sent": pgettext_lazy("batch count", "progress mails sent"),
    # transfer_opi
    "OPI off (OPI_BACKEND=none)": pgettext_lazy("batch count", "OPI off (OPI_BACKEND=none)"),
    "no active campaign": pgettext_lazy("batch count", "no active campaign"),
    "candidates left for the next run": pgettext_lazy("batch count", "candidates left for the next run"),
    "wishes waiting for a formation code": pgettext_lazy("batch count", "wishes waiting for a formation code"),
    "candidates to transfer": pgettext_lazy("batch count", "candidates to transfer"),
    "candidates in the day's files": pgettext_lazy("batch count", "candidates in the day's files"),
    "wishes in the day's files": pgettext_lazy("batch count", "wishes in the day's files"),
    "OPIs transferred by this run": pgettext_lazy("batch count", "OPIs transferred by this run"),
    "files put in place after an interrupted run": pgettext_lazy(
        "batch count", "files put in place after an interrupted run"
    ),
    # the PJ-OPI of transfer_opi, applications.opi.pieces
    "pieces recorded by this run": pgettext_lazy("batch count", "pieces recorded by this run"),
    "pieces sent by this run": pgettext_lazy("batch count", "pieces sent by this run"),
    "pieces missing from the storage": pgettext_lazy("batch count", "pieces missing from the storage"),
    "pieces no longer validated, not sent": pgettext_lazy("batch count", "pieces no longer validated, not sent"),
    "pieces moved from a withdrawn wish to another": pgettext_lazy(
        "batch count", "pieces moved from a withdrawn wish to another"
    ),
    # archive_campaigns, destroy_archived_campaigns
    "campaigns to archive": pgettext_lazy("batch count", "campaigns to archive"),
    "applications to freeze": pgettext_lazy("batch count", "applications to freeze"),
    "accounts to close": pgettext_lazy("batch count", "accounts to close"),
    "campaigns archived": pgettext_lazy("batch count", "campaigns archived"),
    "applications frozen": pgettext_lazy("batch count", "applications frozen"),
    "accounts closed": pgettext_lazy("batch count", "accounts closed"),
    "OPIs left pending": pgettext_lazy("batch count", "OPIs left pending"),
    "campaigns to destroy": pgettext_lazy("batch count", "campaigns to destroy"),
    "applications to delete": pgettext_lazy("batch count", "applications to delete"),
    "chunks left for the next run": pgettext_lazy("batch count", "chunks left for the next run"),
    "campaigns destroyed": pgettext_lazy("batch count", "campaigns destroyed"),
    "accounts kept, OPI work to do (pending OPI or removal in Pégase)": pgettext_lazy(
        "batch count", "accounts kept, OPI work to do (pending OPI or removal in Pégase)"
    ),
    # rescan_documents
    "antivirus not configured: nothing scanned": pgettext_lazy(
        "batch count", "antivirus not configured: nothing scanned"
    ),
    "clamd reports no signature version: clean files not re-scanned": pgettext_lazy(
        "batch count", "clamd reports no signature version: clean files not re-scanned"
    ),
    "documents to scan": pgettext_lazy("batch count", "documents to scan"),
    "clean": pgettext_lazy("batch count", "clean"),
    "infected (quarantined)": pgettext_lazy("batch count", "infected (quarantined)"),
    "scan errors": pgettext_lazy("batch count", "scan errors"),
    "no longer to scan": pgettext_lazy("batch count", "no longer to scan"),
    # prune_login_history
    "login lines to delete": pgettext_lazy("batch count", "login lines to delete"),
    "login lines deleted": pgettext_lazy("batch count", "login lines deleted"),
    # prune_opi_files
    "days of OPI files to erase": pgettext_lazy("batch count", "days of OPI files to erase"),
    "days of OPI files erased": pgettext_lazy("batch count", "days of OPI files erased"),
    "days of OPI files past their retention, kept until collected": pgettext_lazy(
        "batch count", "days of OPI files past their retention, kept until collected"
    ),
    # prune_opi_files: the background exports past their two days (applications.export_jobs)
    "exports to delete": pgettext_lazy("batch count", "exports to delete"),
    "exports deleted": pgettext_lazy("batch count", "exports deleted"),
    "commission packs to delete": pgettext_lazy("batch count", "commission packs to delete"),
    "commission packs deleted": pgettext_lazy("batch count", "commission packs deleted"),
    # remove_orphan_files, prune_outbox (mails: destroy_archived_campaigns too), prune_batch_history
    "orphan files to delete": pgettext_lazy("batch count", "orphan files to delete"),
    "orphan files deleted": pgettext_lazy("batch count", "orphan files deleted"),
    "unfinished uploads to abort": pgettext_lazy("batch count", "unfinished uploads to abort"),
    "unfinished uploads aborted": pgettext_lazy("batch count", "unfinished uploads aborted"),
    # remove_orphan_files --adopt-storage: the storage's marker named this deployment's database at its former address
    "storage to adopt": pgettext_lazy("batch count", "storage to adopt"),
    "storage adopted": pgettext_lazy("batch count", "storage adopted"),
    # destroy_archived_campaigns: files the storage refused to delete, swept later by remove_orphan_files
    "files left for remove_orphan_files": pgettext_lazy("batch count", "files left for remove_orphan_files"),
    "mails to delete": pgettext_lazy("batch count", "mails to delete"),
    "mails deleted": pgettext_lazy("batch count", "mails deleted"),
    "runs to delete": pgettext_lazy("batch count", "runs to delete"),
    "runs deleted": pgettext_lazy("batch count", "runs deleted"),
}


def batch_label(name: str) -> str:
    """The batch's (or automatic source's) label in the active language; one not listed keeps its command's name."""
    label = BATCH_LABELS.get(name) or SOURCE_LABELS.get(name)
    return str(label) if label is not None else name


def count_label(key: str) -> str:
    """A count's words in the active language: « candidats dans les fichiers du jour », « pays : reçus ». A key not
    listed (one with a value inside, such as a setting's) is shown as stored."""
    if key in COUNT_WORDS:
        return str(COUNT_WORDS[key])
    head, separator, tail = key.partition(": ")
    if separator and head in COUNT_WORDS and tail in COUNT_WORDS:
        return gettext("%(list)s: %(what)s") % {"list": COUNT_WORDS[head], "what": COUNT_WORDS[tail]}
    return key
