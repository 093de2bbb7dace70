"""The FAQ of the "Assistance" page (eCandidat "FAQ"): written by the central office, shown in order in the
visitor's language (English falls back to French), read from the cache (no query once cached), still shown when the
cache fails, and replaced in the cache when a save commits, not before."""

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from ecandidat import cached_value
from ecandidat import faq as module
from ecandidat.faq import delete_faq_entries, faq_entries, save_faq_entry
from ecandidat.models import FaqEntry

pytestmark = pytest.mark.django_db
ADMIN = "/gestion/ecandidat/faqentry/"
ADMIN_ADD = f"{ADMIN}add/"
DEPOSIT = {
    "order": 1,
    "in_service": "on",
    "question_fr": "Comment déposer une pièce ?",
    "answer_fr": "Ouvrez votre candidature, onglet « Pièces ».\nUn seul fichier par pièce.",
    "question_en": "",
    "answer_en": "",
}


@pytest.fixture(autouse=True)
def _no_cached_faq():
    cache.delete(module.CACHE_KEY)
    yield
    cache.delete(module.CACHE_KEY)


def _entry(**fields) -> FaqEntry:
    values = {"order": 1, "question_fr": "Question ?", "answer_fr": "Réponse.", **fields}
    return save_faq_entry(entry=FaqEntry(**values), actor=None)


# --- the page ---


def test_the_page_shows_the_entries_in_order_as_disclosures(client, django_assert_num_queries):
    _entry(order=2, question_fr="Quand aurai-je une réponse ?", answer_fr="Après la commission.")
    _entry(order=1, question_fr="Comment déposer une pièce ?", answer_fr="Onglet « Pièces ».")
    _entry(order=0, question_fr="Question retirée ?", in_service=False)
    client.get(reverse("assistance"))  # the first view reads the FAQ once

    with django_assert_num_queries(0):
        response = client.get(reverse("assistance"), language="fr")

    html = response.content.decode()
    assertContains(response, '<h2 id="faq-title">Questions fréquentes</h2>', html=False)
    assertContains(response, '<details lang="fr">', count=2, html=False)
    assert html.index("Comment déposer une pièce ?") < html.index("Quand aurai-je une réponse ?")
    assertNotContains(response, "Question retirée ?")
    assertContains(response, "Je transmets ma candidature")  # the guide is still there, after the FAQ


def test_no_entry_no_section(client, django_assert_num_queries):
    client.get(reverse("assistance"))

    with django_assert_num_queries(0):
        response = client.get(reverse("assistance"))

    assertNotContains(response, "faq-title")


def test_a_cold_cache_costs_one_query_then_none(client, django_assert_num_queries):
    _entry(question_fr="Comment déposer une pièce ?")
    cache.delete(module.CACHE_KEY)

    with django_assert_num_queries(1):
        cold = client.get(reverse("assistance"))
    with django_assert_num_queries(0):
        warm = client.get(reverse("assistance"))

    assertContains(cold, "Comment déposer une pièce ?")
    assertContains(warm, "Comment déposer une pièce ?")


def test_english_visitors_read_the_english_pair_or_else_the_french_one(client):
    _entry(order=1, question_fr="Comment déposer une pièce ?", answer_fr="Onglet « Pièces ».")
    _entry(
        order=2,
        question_fr="Quand aurai-je une réponse ?",
        answer_fr="Après la commission.",
        question_en="When will I get an answer?",
        answer_en="After the committee meets.",
    )

    english = client.get(reverse("assistance"), language="en")
    french = client.get(reverse("assistance"), language="fr")

    assertContains(english, "Frequently asked questions")
    assertContains(english, '<details lang="en">', count=1, html=False)
    assertContains(english, "When will I get an answer?")
    assertContains(english, "<p>After the committee meets.</p>", html=False)
    assertContains(english, '<details lang="fr">', count=1, html=False)  # no English: the French pair, marked so
    assertContains(english, "Comment déposer une pièce ?")
    assertNotContains(english, "Quand aurai-je une réponse ?")
    assertContains(french, "Quand aurai-je une réponse ?")
    assertNotContains(french, "When will I get an answer?")


def test_markup_is_shown_as_text_and_line_breaks_are_kept(client):
    _entry(question_fr="<b>Gras ?</b>", answer_fr="<script>alert(1)</script>\nDeuxième ligne")

    response = client.get(reverse("assistance"), language="fr")

    assertContains(response, "<summary>&lt;b&gt;Gras ?&lt;/b&gt;</summary>", html=False)
    assertContains(response, "<p>&lt;script&gt;alert(1)&lt;/script&gt;<br>Deuxième ligne</p>", html=False)
    assertNotContains(response, "<script>alert(1)", html=False)


def test_a_failing_cache_is_skipped_and_the_database_answers(client, monkeypatch, caplog, django_assert_num_queries):
    _entry(question_fr="Comment déposer une pièce ?")

    def broken(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(cached_value.cache, "get", broken)
    with django_assert_num_queries(1):
        response = client.get(reverse("assistance"), language="fr")

    assertContains(response, "Comment déposer une pièce ?")
    assert "faq: cache unavailable (ConnectionError), read from the database" in caplog.text


def test_a_cache_that_cannot_be_written_still_gives_the_page(client, monkeypatch, caplog):
    _entry(question_fr="Comment déposer une pièce ?")
    cache.delete(module.CACHE_KEY)

    def broken(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(cached_value.cache, "set", broken)
    response = client.get(reverse("assistance"), language="fr")

    assertContains(response, "Comment déposer une pièce ?")
    assert "faq: cache unavailable (ConnectionError)" in caplog.text


# --- the services and the cache ---


def test_the_cache_gets_the_new_faq_when_the_save_commits_and_not_before(django_capture_on_commit_callbacks):
    assert faq_entries("fr") == []  # a cached empty FAQ

    with django_capture_on_commit_callbacks() as callbacks:
        entry = save_faq_entry(entry=FaqEntry(order=1, question_fr=" Question ? ", answer_fr="Réponse."), actor=None)
        assert faq_entries("fr") == []  # not committed: readers still see the old FAQ
    assert faq_entries("fr") == []
    for callback in callbacks:
        callback()

    assert faq_entries("fr") == [("Question ?", "Réponse.", "fr")]  # stripped, and read without a query
    entry.refresh_from_db()
    assert entry.question_fr == "Question ?"


def test_two_saves_at_the_same_moment_both_reach_the_cache(django_capture_on_commit_callbacks):
    """The list is read after the commit: an entry another save committed meanwhile is not lost for 300 s."""
    with django_capture_on_commit_callbacks() as callbacks:
        save_faq_entry(entry=FaqEntry(order=1, question_fr="Première ?", answer_fr="Oui."), actor=None)
    FaqEntry.objects.create(order=2, question_fr="Seconde ?", answer_fr="Oui.")  # the other save, committed
    for callback in callbacks:
        callback()

    assert [question for question, _answer, _language in faq_entries("fr")] == ["Première ?", "Seconde ?"]


def test_a_rolled_back_save_leaves_the_cache_alone():
    assert faq_entries("fr") == []

    def save_then_fail():
        with transaction.atomic():
            save_faq_entry(entry=FaqEntry(order=1, question_fr="Question ?", answer_fr="Réponse."), actor=None)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        save_then_fail()

    assert faq_entries("fr") == []
    assert not FaqEntry.objects.exists()


def test_a_deletion_leaves_the_cache_when_it_commits(django_capture_on_commit_callbacks):
    kept = _entry(order=1, question_fr="Gardée ?")
    gone = _entry(order=2, question_fr="Supprimée ?")

    with django_capture_on_commit_callbacks(execute=True):
        deleted = delete_faq_entries(entries=[gone], actor=None)

    assert deleted == 1
    assert [question for question, _answer, _language in faq_entries("fr")] == [kept.question_fr]


def test_english_comes_as_a_pair_or_not_at_all():
    with pytest.raises(IntegrityError), transaction.atomic():
        FaqEntry.objects.create(question_fr="Question ?", answer_fr="Réponse.", question_en="Question?")


# --- the back office ---


def test_the_central_office_adds_an_entry_and_the_page_shows_it_at_once(
    client, central_manager, django_capture_on_commit_callbacks
):
    client.get(reverse("assistance"))  # a cached empty FAQ
    client.force_login(central_manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(ADMIN_ADD, DEPOSIT)
    client.logout()
    page = client.get(reverse("assistance"), language="fr")

    entry = FaqEntry.objects.get()
    assert response.status_code == 302
    assertContains(page, "Comment déposer une pièce ?")
    assertContains(
        page, "<p>Ouvrez votre candidature, onglet « Pièces ».<br>Un seul fichier par pièce.</p>", html=False
    )
    log = LogEntry.objects.get()
    assert (log.user_id, log.object_id, log.action_flag) == (central_manager.pk, str(entry.pk), ADDITION)


def test_the_central_office_changes_and_deletes_entries_with_their_history(
    client, central_manager, django_capture_on_commit_callbacks
):
    entry = _entry(question_fr="Comment déposer une pièce ?")
    client.force_login(central_manager)

    with django_capture_on_commit_callbacks(execute=True):
        changed = client.post(f"{ADMIN}{entry.pk}/change/", {**DEPOSIT, "question_fr": "Comment déposer un fichier ?"})
    assert faq_entries("fr")[0][0] == "Comment déposer un fichier ?"
    with django_capture_on_commit_callbacks(execute=True):
        deleted = client.post(ADMIN, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"})

    assert (changed.status_code, deleted.status_code) == (302, 302)
    assert not FaqEntry.objects.exists()
    assert faq_entries("fr") == []
    flags = list(LogEntry.objects.order_by("id").values_list("user_id", "action_flag"))
    assert flags == [(central_manager.pk, CHANGE), (central_manager.pk, DELETION)]


def test_the_central_office_sees_the_list(client, central_manager):
    _entry(question_fr="Comment déposer une pièce ?")
    client.force_login(central_manager)

    assertContains(client.get(ADMIN), "Comment déposer une pièce ?")


@pytest.mark.parametrize("persona", ["centre_manager", "commission_member", "read_only_staff", "candidate_user"])
def test_only_the_central_office_reads_or_edits_it(request, client, persona):
    entry = _entry(question_fr="Comment déposer une pièce ?")
    client.force_login(request.getfixturevalue(persona))

    listing = client.get(ADMIN)
    added = client.post(ADMIN_ADD, {**DEPOSIT, "question_fr": "Question pirate ?"})
    changed = client.post(f"{ADMIN}{entry.pk}/change/", {**DEPOSIT, "question_fr": "Question pirate ?"})

    for response in (listing, added, changed):
        assert response.status_code in (403, 404, 302)  # refused, not found (an add page), or sent to the login
    assert list(FaqEntry.objects.values_list("question_fr", flat=True)) == ["Comment déposer une pièce ?"]
    assert not LogEntry.objects.exists()
