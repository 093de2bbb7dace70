"""The confirmation mail (CANDIDATURE_CONFIRM) gives the candidate's numéro de dossier: the registration instructions
it carries tell the admitted candidate to log in to the administrative registration « avec votre numéro de dossier »,
which the mail did not give (the account creation mail gives it only to those who log in with a password, not to ENT
students); the files changed with this migration, the variable ``numero_dossier`` was there for the central office
to add. A central office's text that is still the files' old text (the starting text
the editor offered, saved as it was) gets the new line; any text an institution changed, even by one character, is
left as it is (as ecandidat 0011)."""

from django.db import migrations

CODE = "CANDIDATURE_CONFIRM"

# The files' text in the override syntax (ecandidat.mail_templates.file_version), before and after, per language.
OLD = {
    "fr": (
        'Bonjour ${first_name} ${last_name},\n'
        '\n'
        'Vous avez confirmé votre candidature à la formation ${formation_title} (${formation_code}).\n'
        '{if($registration_instructions)}\n'
        'Instructions pour votre inscription administrative :\n'
        '${registration_instructions}\n'
        '{endif($registration_instructions)}{if($letter_url)}\n'
        "{if($letter_attached)}Votre lettre d'admission est jointe à ce courriel ; vous pouvez aussi la télécharger sur eCandidat : ${letter_url}{endif($letter_attached)}{if(!$letter_attached)}Votre lettre d'admission : ${letter_url}{endif(!$letter_attached)}\n"
        '{endif($letter_url)}\n'
        'Ce courriel a été envoyé automatiquement, merci de ne pas y répondre.\n'
    ),
    "en": (
        'Hello ${first_name} ${last_name},\n'
        '\n'
        'You have confirmed your application to the formation ${formation_title} (${formation_code}).\n'
        '{if($registration_instructions)}\n'
        'Instructions for your administrative registration:\n'
        '${registration_instructions}\n'
        '{endif($registration_instructions)}{if($letter_url)}\n'
        '{if($letter_attached)}Your admission letter is attached to this e-mail; you can also download it from eCandidat: ${letter_url}{endif($letter_attached)}{if(!$letter_attached)}Your admission letter: ${letter_url}{endif(!$letter_attached)}\n'
        '{endif($letter_url)}\n'
        'This e-mail was sent automatically, please do not reply.\n'
    ),
}
NEW = {
    "fr": (
        'Bonjour ${first_name} ${last_name},\n'
        '\n'
        'Vous avez confirmé votre candidature à la formation ${formation_title} (${formation_code}).\n'
        'Votre identifiant (numéro de dossier) : ${numero_dossier}\n'
        '{if($registration_instructions)}\n'
        'Instructions pour votre inscription administrative :\n'
        '${registration_instructions}\n'
        '{endif($registration_instructions)}{if($letter_url)}\n'
        "{if($letter_attached)}Votre lettre d'admission est jointe à ce courriel ; vous pouvez aussi la télécharger sur eCandidat : ${letter_url}{endif($letter_attached)}{if(!$letter_attached)}Votre lettre d'admission : ${letter_url}{endif(!$letter_attached)}\n"
        '{endif($letter_url)}\n'
        'Ce courriel a été envoyé automatiquement, merci de ne pas y répondre.\n'
    ),
    "en": (
        'Hello ${first_name} ${last_name},\n'
        '\n'
        'You have confirmed your application to the formation ${formation_title} (${formation_code}).\n'
        'Your identifier (dossier number): ${numero_dossier}\n'
        '{if($registration_instructions)}\n'
        'Instructions for your administrative registration:\n'
        '${registration_instructions}\n'
        '{endif($registration_instructions)}{if($letter_url)}\n'
        '{if($letter_attached)}Your admission letter is attached to this e-mail; you can also download it from eCandidat: ${letter_url}{endif($letter_attached)}{if(!$letter_attached)}Your admission letter: ${letter_url}{endif(!$letter_attached)}\n'
        '{endif($letter_url)}\n'
        'This e-mail was sent automatically, please do not reply.\n'
    ),
}


def _normalised(text: str) -> str:
    return text.replace("\r\n", "\n").strip()


def _replace(apps, before: dict, after: dict) -> None:
    MailTemplate = apps.get_model("ecandidat", "MailTemplate")
    for row in MailTemplate.objects.filter(code=CODE, language__in=before):
        if _normalised(row.body) == _normalised(before[row.language]):
            MailTemplate.objects.filter(pk=row.pk).update(body=after[row.language])  # updated_at/by kept


def add_numero_dossier(apps, schema_editor):
    _replace(apps, OLD, NEW)


def remove_numero_dossier(apps, schema_editor):
    _replace(apps, NEW, OLD)


class Migration(migrations.Migration):
    dependencies = [("ecandidat", "0011_favourable_mail_letter_first")]

    operations = [migrations.RunPython(add_numero_dossier, remove_numero_dossier)]
