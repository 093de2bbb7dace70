"""The staff directory's batch (``refresh_staff_directory``, eCandidat BATCH_MAJ_GESTIONNAIRE) says each of its
errors once, in French, as every batch does: in its run's record (the batch history the central office reads) and,
from there, on stderr (cron's mail; ``BatchCommand`` writes the run's errors). A directory that does not answer was
said twice, in English then in French; the refused deactivations and the accounts the database refused were in
English only."""

import io

import pytest
from django.core.management import call_command
from django.db import DatabaseError
from django.utils import translation

from accounts import directory, directory_refresh
from accounts.directory import DirectoryPerson
from accounts.tests.factories import StaffFactory
from ecandidat.models import BatchRun, StaffDirectoryChange

pytestmark = pytest.mark.django_db

BATCH = "refresh_staff_directory"
UNAVAILABLE_FR = "annuaire indisponible, rien n'a changé : "


def _directory_staff(username: str):
    """As ``create_staff_from_directory`` makes it: the uid as username, no usable password, from the directory."""
    user = StaffFactory(username=username, from_directory=True)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return user


def _run(*args) -> tuple[BatchRun, str]:
    """The batch run in French (the institution's language); its record and its stderr."""
    err = io.StringIO()
    with translation.override("fr"):
        call_command(BATCH, *args, stdout=io.StringIO(), stderr=err)
    return BatchRun.objects.get(name=BATCH), err.getvalue()


@pytest.fixture
def stand_in_directory(mocker, settings):
    """``directory.look_up`` answering from a dict ``uid -> (person, is_staff)`` the test fills."""
    settings.LDAP_URL = "ldap://directory.invalid"
    entries: dict[str, tuple[DirectoryPerson | None, bool]] = {}
    look_up = mocker.patch.object(directory, "look_up", side_effect=lambda uids: dict(entries))
    look_up.entries = entries
    return look_up


def test_an_unreachable_directory_is_said_once_in_french(settings):
    settings.LDAP_URL = "ldap://127.0.0.1:1"  # nothing listens there: ldap3 cannot connect
    user = _directory_staff("paul.parti")

    run, err = _run()

    assert run.status == BatchRun.Status.ERROR
    assert run.errors.startswith(UNAVAILABLE_FR)
    assert "\n" not in run.errors  # one error
    assert err.count(UNAVAILABLE_FR) == 1
    assert err.strip() == run.errors
    assert "directory unavailable" not in err
    user.refresh_from_db()
    assert user.is_active
    assert not StaffDirectoryChange.objects.exists()


def test_refused_deactivations_are_said_once_in_french(stand_in_directory, settings):
    settings.STAFF_DIRECTORY_MAX_DEACTIVATIONS = 1
    _directory_staff("parti1")
    _directory_staff("parti2")

    run, err = _run()

    expected = (
        "2 comptes de gestionnaires seraient désactivés, plus que le maximum permis "
        "(1, STAFF_DIRECTORY_MAX_DEACTIVATIONS) : "
        "aucun ne l'a été. Vérifiez LDAP_URL, LDAP_PEOPLE_BASE et LDAP_STAFF_FILTER ; si l'annuaire est juste, "
        "lancez une fois avec --max-deactivations N."
    )
    assert run.status == BatchRun.Status.ERROR
    assert run.errors == expected
    assert err.strip() == expected


def test_one_refused_deactivation_is_said_in_the_singular(stand_in_directory):
    _directory_staff("parti1")

    run, _err = _run("--max-deactivations", "0")

    assert run.errors.startswith(
        "1 compte de gestionnaire serait désactivé, plus que le maximum permis "
        "(0, STAFF_DIRECTORY_MAX_DEACTIVATIONS) : il ne "
        "l'a pas été."
    )


def test_an_account_the_database_refuses_is_said_once_in_french(stand_in_directory, mocker):
    _directory_staff("paul.parti")
    mocker.patch.object(directory_refresh, "_deactivate", side_effect=DatabaseError("value too long"))

    run, err = _run()

    expected = (
        "compte de gestionnaire ni mis à jour ni désactivé, la base de données l'a refusé : paul.parti: value too long"
    )
    assert run.status == BatchRun.Status.ERROR
    assert run.errors == expected
    assert err.strip() == expected
