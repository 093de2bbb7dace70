"""An account created through the ENT (« Création de compte », pre-filled from the ENT) keeps the language of that
page, as an e-mail signup does (``User.language``, ``AccountAdapter.save_user`` through allauth's social signup): the
helpdesk's mails to a student without a dossier yet are written in it."""

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import User
from accounts.tests.ent import oidc_callback_state

STUDENT = "maya.chen@etudiant.univ-perp.fr"
CLAIMS = {"sub": "maya.chen", "email": STUDENT, "email_verified": True, "given_name": "Maya", "family_name": "CHEN"}
ENT_SIGNUP = reverse("socialaccount_signup")
CALLBACK = reverse("ent_oidc_callback", args=["ent"])
FORM = {"last_name": "CHEN", "first_name": "Maya", "email": STUDENT, "email2": STUDENT}


@pytest.mark.parametrize("page", ["en", "fr"])
def test_the_ent_signup_keeps_the_language_of_its_page(client, oidc_ent, campaign, mocker, page):
    client.language = page
    state = oidc_callback_state(client, mocker, CLAIMS)
    assert client.get(CALLBACK, {"code": "c", "state": state}).url == ENT_SIGNUP

    response = client.post(ENT_SIGNUP, FORM)

    assert response.status_code == 302
    student = User.objects.get(email=STUDENT)
    assert student.socialaccount_set.get().uid == "maya.chen"
    assert student.language == page
    assert services.account_language(student) == page
