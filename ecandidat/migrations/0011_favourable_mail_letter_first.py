"""The favourable decision mail (AVIS_FAVORABLE) gives the decision letter's link before the application's, as the
refusal mail does (the files changed with this migration). A central office's text that is still the files' old text
(the starting text the editor offered, saved as it was, e.g. to take the mail out of service) gets the new order;
any text an institution changed, even by one character, is left as it is."""

from django.db import migrations

CODE = "AVIS_FAVORABLE"

# The files' text in the override syntax (ecandidat.mail_templates.file_version), before and after, per language.
OLD = {
    "fr": (
        'Bonjour ${first_name} ${last_name},\n'
        '\n'
        'La commission a émis un avis favorable sur votre candidature à la formation ${formation_title} (${formation_code}) : ${decision_label}.\n'
        '{if($appeal_sentence)}\n'
        '${appeal_sentence}\n'
        '{endif($appeal_sentence)}{if($decision_comment)}\n'
        '${decision_comment}\n'
        '{endif($decision_comment)}\n'
        '{if($confirmation_date)}Connectez-vous à eCandidat pour confirmer ou vous désister de votre candidature au plus tard le ${confirmation_date}, ce jour compris. Sans réponse à cette date, vous serez automatiquement désisté(e).{endif($confirmation_date)}{if(!$confirmation_date)}Connectez-vous à eCandidat pour confirmer ou vous désister de votre candidature.{endif(!$confirmation_date)}\n'
        'Votre candidature sur eCandidat : ${recap_url}\n'
        '{if($letter_attached)}\n'
        'Votre lettre de décision est jointe à ce courriel ; vous pouvez aussi la télécharger sur eCandidat : ${letter_url}\n'
        '{endif($letter_attached)}{if(!$letter_attached)}{if($letter_url)}\n'
        'Votre lettre de décision : ${letter_url}\n'
        '{endif($letter_url)}{endif(!$letter_attached)}\n'
        'Ce courriel a été envoyé automatiquement, merci de ne pas y répondre.\n'
    ),
    "en": (
        'Hello ${first_name} ${last_name},\n'
        '\n'
        'The commission has given a favourable decision on your application to the formation ${formation_title} (${formation_code}): ${decision_label}.\n'
        '{if($appeal_sentence)}\n'
        '${appeal_sentence}\n'
        '{endif($appeal_sentence)}{if($decision_comment)}\n'
        '${decision_comment}\n'
        '{endif($decision_comment)}\n'
        '{if($confirmation_date)}Log in to eCandidat and confirm or withdraw your application by ${confirmation_date} at the latest. Without an answer by that date, your application is withdrawn automatically.{endif($confirmation_date)}{if(!$confirmation_date)}Log in to eCandidat and confirm or withdraw your application.{endif(!$confirmation_date)}\n'
        'Your application in eCandidat: ${recap_url}\n'
        '{if($letter_attached)}\n'
        'Your decision letter is attached to this e-mail; you can also download it from eCandidat: ${letter_url}\n'
        '{endif($letter_attached)}{if(!$letter_attached)}{if($letter_url)}\n'
        'Your decision letter: ${letter_url}\n'
        '{endif($letter_url)}{endif(!$letter_attached)}\n'
        'This e-mail was sent automatically, please do not reply.\n'
    ),
}
NEW = {
    "fr": (
        'Bonjour ${first_name} ${last_name},\n'
        '\n'
        'La commission a émis un avis favorable sur votre candidature à la formation ${formation_title} (${formation_code}) : ${decision_label}.\n'
        '{if($appeal_sentence)}\n'
        '${appeal_sentence}\n'
        '{endif($appeal_sentence)}{if($decision_comment)}\n'
        '${decision_comment}\n'
        '{endif($decision_comment)}{if($letter_attached)}\n'
        'Votre lettre de décision est jointe à ce courriel ; vous pouvez aussi la télécharger sur eCandidat : ${letter_url}\n'
        '{endif($letter_attached)}{if(!$letter_attached)}{if($letter_url)}\n'
        'Votre lettre de décision : ${letter_url}\n'
        '{endif($letter_url)}{endif(!$letter_attached)}\n'
        '{if($confirmation_date)}Connectez-vous à eCandidat pour confirmer ou vous désister de votre candidature au plus tard le ${confirmation_date}, ce jour compris. Sans réponse à cette date, vous serez automatiquement désisté(e).{endif($confirmation_date)}{if(!$confirmation_date)}Connectez-vous à eCandidat pour confirmer ou vous désister de votre candidature.{endif(!$confirmation_date)}\n'
        'Votre candidature sur eCandidat : ${recap_url}\n'
        'Ce courriel a été envoyé automatiquement, merci de ne pas y répondre.\n'
    ),
    "en": (
        'Hello ${first_name} ${last_name},\n'
        '\n'
        'The commission has given a favourable decision on your application to the formation ${formation_title} (${formation_code}): ${decision_label}.\n'
        '{if($appeal_sentence)}\n'
        '${appeal_sentence}\n'
        '{endif($appeal_sentence)}{if($decision_comment)}\n'
        '${decision_comment}\n'
        '{endif($decision_comment)}{if($letter_attached)}\n'
        'Your decision letter is attached to this e-mail; you can also download it from eCandidat: ${letter_url}\n'
        '{endif($letter_attached)}{if(!$letter_attached)}{if($letter_url)}\n'
        'Your decision letter: ${letter_url}\n'
        '{endif($letter_url)}{endif(!$letter_attached)}\n'
        '{if($confirmation_date)}Log in to eCandidat and confirm or withdraw your application by ${confirmation_date} at the latest. Without an answer by that date, your application is withdrawn automatically.{endif($confirmation_date)}{if(!$confirmation_date)}Log in to eCandidat and confirm or withdraw your application.{endif(!$confirmation_date)}\n'
        'Your application in eCandidat: ${recap_url}\n'
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


def letter_first(apps, schema_editor):
    _replace(apps, OLD, NEW)


def letter_last(apps, schema_editor):
    _replace(apps, NEW, OLD)


class Migration(migrations.Migration):
    dependencies = [("ecandidat", "0010_parameters")]

    operations = [migrations.RunPython(letter_first, letter_last)]
