"""Demo catalogue: the Université de Perpignan Via Domitia offer shown in the candidates' guide.

Windows keep the guide's relative lengths but are shifted so that they are open today. The guide only lists the
masters of the UFR Sciences Exactes et Expérimentales; the other centres get one representative formation each
so that every centre of the guide appears in the catalogue.
"""

import datetime

from django.core.files.base import ContentFile
from django.utils import timezone

from ecandidat.pdf import FONT, UnicodePDF
from offers.enums import ApplicationMode
from offers.models import (
    Campaign,
    Centre,
    Commission,
    DecisionLetterTemplate,
    DiplomaType,
    Formation,
    FormationType,
    PieceType,
    Question,
)

# The guide's dates are from 2017; this day sits inside all of its windows, and becomes "today".
GUIDE_ANCHOR = datetime.date(2017, 5, 24)

CENTRES = [
    ("IUT", "IUT De Perpignan", "Chemin de la Passio Vella\n66860 PERPIGNAN"),
    ("MEEF1", "MEEF 1er degré - CRPE - Professeur des écoles", "52 avenue Paul Alduy\n66860 PERPIGNAN"),
    ("MEEF2", "MEEF 2nd degré - CAPES - Professeur Collèges & Lycées", "52 avenue Paul Alduy\n66860 PERPIGNAN"),
    ("STAPS", "STAPS - UFR SEE - Site de Font Romeu", "7 avenue Pierre de Coubertin\n66120 FONT-ROMEU"),
    ("SEE", "UFR Sciences Exactes et Expérimentales", "52 avenue Paul Alduy\nUFR SEE\n66860 PERPIGNAN"),
]

DIPLOMA_TYPES = [
    ("MASTER", "MASTER LMD", 1),
    ("MEEF", "MASTER MEEF", 2),
    ("LPRO", "LICENCE PRO", 3),
    ("LIC", "LICENCE LMD", 4),
]

# The institution's own "types de formation" (the catalogue's groups when CATALOGUE_GROUPING is NOM), by diploma.
FORMATION_TYPES = [
    ("FI", "Formation initiale", "Initial education", 1),
    ("PRO", "Formation professionnalisante", "Vocational education", 2),
]
FORMATION_TYPE_OF_DIPLOMA = {"MASTER": "FI", "LIC": "FI", "MEEF": "PRO", "LPRO": "PRO"}

APRIL_JUNE = (datetime.date(2017, 4, 24), datetime.date(2017, 6, 24))
FEB_AUGUST = (datetime.date(2017, 2, 27), datetime.date(2017, 8, 25))
FEB_JUNE = (datetime.date(2017, 2, 27), datetime.date(2017, 6, 24))

# (code, centre, diploma type, title, keywords, window)
FORMATIONS = [
    (
        "M1BEE",
        "SEE",
        "MASTER",
        "MASTER 1 - BEE Parc. Biodiversité et développement durable",
        "biodiversité, écologie, environnement",
        APRIL_JUNE,
    ),
    (
        "M1CHPS",
        "SEE",
        "MASTER",
        "MASTER 1 - CALCUL HAUTE PERFORMANCE, SIMULATION",
        "Informatique Mathématiques, calcul scientifique",
        FEB_AUGUST,
    ),
    ("M1EEA", "SEE", "MASTER", "MASTER 1 - ELECTRONIQUE, ENERGIE ELECTRIQUE, AUTOMATIQUE Parc. ASGE", "", FEB_JUNE),
    ("M1ENER", "SEE", "MASTER", "MASTER 1 - ENERGIE Parc. Matériaux et procédés solaires", "énergie", FEB_JUNE),
    ("M1MER", "SEE", "MASTER", "MASTER 1 - SCIENCES DE LA MER", "Géologie Marine, géosciences", APRIL_JUNE),
    (
        "M2BEE",
        "SEE",
        "MASTER",
        "MASTER 2 - BEE Parc. Biodiversité et développement durable",
        "biodiversité, écologie, environnement",
        APRIL_JUNE,
    ),
    (
        "M2CHPS",
        "SEE",
        "MASTER",
        "MASTER 2 - CALCUL HAUTE PERFORMANCE, SIMULATION",
        "Informatique Mathématiques, calcul scientifique",
        FEB_AUGUST,
    ),
    ("M2EEA", "SEE", "MASTER", "MASTER 2 - ELECTRONIQUE, ENERGIE ELECTRIQUE, AUTOMATIQUE Parc. ASGE", "", FEB_JUNE),
    ("M2ENER", "SEE", "MASTER", "MASTER 2 - ENERGIE Parc. Matériaux et procédés solaires", "énergie", FEB_JUNE),
    (
        "M2MERGEO",
        "SEE",
        "MASTER",
        "MASTER 2 - SCIENCES DE LA MER Parc. Géosciences marines et environnements aquatiques",
        "Géologie marine, géosciences",
        APRIL_JUNE,
    ),
    (
        "M2MERMOL",
        "SEE",
        "MASTER",
        "MASTER 2 - SCIENCES DE LA MER Parc. Molécules bioactives et environnement",
        "Chimie de l'environnement, molécules bioactives",
        APRIL_JUNE,
    ),
    (
        "LPINFO",
        "IUT",
        "LPRO",
        "LICENCE PRO - Métiers de l'informatique : applications web",
        "informatique, web",
        APRIL_JUNE,
    ),
    ("M1MEEF1", "MEEF1", "MEEF", "MASTER 1 - MEEF 1er degré - Professeur des écoles", "enseignement, CRPE", FEB_JUNE),
    ("M1MEEF2", "MEEF2", "MEEF", "MASTER 1 - MEEF 2nd degré - Mathématiques", "enseignement, CAPES", FEB_JUNE),
    ("L3STAPS", "STAPS", "LIC", "LICENCE 3 - STAPS Entraînement sportif", "sport, montagne", APRIL_JUNE),
]
# The capacité d'accueil of a few formations (shown in the dashboards only); the others' is unknown.
CAPACITIES = {"M1ENER": 24, "M1EEA": 30, "M1CHPS": 20, "M1MER": 25, "LPINFO": 28, "M1MEEF1": 120, "L3STAPS": 40}

# The English titles of some formations (the others show their French title to an English reader, marked French),
# and the English of the texts the candidates read on their recap and in their mails: the UFR SEE's (the other
# centres and commissions keep the French text alone).
FORMATIONS_IN_ENGLISH = {
    "M1ENER": "MASTER 1 - ENERGY Track: Solar materials and processes",
    "M2ENER": "MASTER 2 - ENERGY Track: Solar materials and processes",
    "M1MER": "MASTER 1 - MARINE SCIENCES",
    "M1CHPS": "MASTER 1 - HIGH PERFORMANCE COMPUTING, SIMULATION",
}
INFORMATION = {
    "M1ENER": (
        "Réunion d'information le premier mercredi de juin, amphithéâtre A.",
        "Information meeting on the first Wednesday of June, lecture hall A.",
    ),
    "M1MER": ("Les sorties en mer ont lieu en avril.", ""),
}
RETURN_COMMENT = "Le secrétariat pédagogique répond du lundi au vendredi, de 9 h à 12 h."
RETURN_COMMENT_IN_ENGLISH = {"SEE": "The teaching office answers from Monday to Friday, 9 am to 12 noon."}
REGISTRATION_INSTRUCTIONS = (
    "Connectez-vous à l'application d'inscription administrative avec votre numéro de dossier avant la date indiquée."
)
REGISTRATION_INSTRUCTIONS_IN_ENGLISH = {
    "SEE": "Log in to the administrative registration application with your dossier number before the date given."
}

# Complementary questions (code, label, question, kind, conditional), asked by the formations QUESTION_FORMATIONS
# names.
QUESTIONS = [
    (
        "PROJET",
        "Projet professionnel",
        "Décrivez en quelques lignes votre projet professionnel et ce que cette formation y apporte.",
        "S",
        False,
    ),
    (
        "EMBARQUE",
        "Sorties en mer",
        "Avez-vous déjà participé à une campagne en mer ou à des sorties embarquées ?",
        "B",
        True,
    ),
]
QUESTIONS_IN_ENGLISH = {
    "PROJET": "Describe your career plan in a few lines, and what this formation brings to it.",
}
QUESTION_FORMATIONS = {"M1MER": ("PROJET", "EMBARQUE"), "LPINFO": ("PROJET",)}

# The English labels of some pieces (the others show their French label to an English reader, marked French).
PIECES_IN_ENGLISH = {
    "B2FR": (
        "Certificate of French at level B2, for foreign candidates from countries where French is not the official "
        'language holding degrees from non-French-speaking universities. IF IT DOES NOT CONCERN YOU, CLICK "NOT '
        'CONCERNED BY THIS PIECE"'
    ),
    "RNBAC": "Transcripts of the baccalaureate or equivalent",
    "RNSUP": "Transcripts since the baccalaureate (the first semester of the current year is required)",
    "LM": "Cover letter",
}

# (code, label, common, conditional, attached to formations of centre SEE only)
PIECES = [
    (
        "B2FR",
        (
            "Attestation de langue française de niveau B2 pour les candidats étrangers originaires de pays dont le "
            "français n'est pas la langue officielle et titulaire de diplômes d'universités non francophones. SI VOUS "
            'N\'ÊTES PAS CONCERNÉ CLIQUEZ SUR "NON CONCERNÉ PAR CETTE PIÈCE"'
        ),
        True,
        True,
    ),
    ("RNBAC", "Relevés de notes du bac ou équivalent", True, False),
    ("RNSUP", "Relevés de notes depuis le bac (1er semestre de l'année en cours impératif)", True, False),
    ("LM", "Lettre de motivation", True, False),
    (
        "RECO",
        (
            "Lettre(s) de recommandation transmises directement par mail de l'enseignant à l'enseignant responsable "
            "(téléchargez avec Adobe Acrobat Reader, complétez en ligne, enregistrez puis redéposez le fichier)"
        ),
        False,
        False,
    ),
    (
        "DCC",
        (
            "Dossier de candidature complémentaire (téléchargez avec Adobe Acrobat Reader, complétez en ligne, "
            "enregistrez puis redéposez le fichier)"
        ),
        False,
        False,
    ),
    (
        "STAGES",
        "Justificatifs de stages, de formations complémentaires et d'expériences professionnelles",
        True,
        False,
    ),
]


def _template_pdf(title: str) -> bytes:
    pdf = UnicodePDF()
    pdf.add_page()
    pdf.set_font(FONT, size=14)
    pdf.multi_cell(0, 8, title)
    pdf.set_font(FONT, size=11)
    for label in ("Nom :", "Prénom :", "Numéro de dossier :", "Projet professionnel :", "", "", "Date et signature :"):
        pdf.ln(6)
        pdf.cell(0, 8, label)
    return bytes(pdf.output())


LETTERS = [
    (
        DecisionLetterTemplate.Kind.ADMISSION,
        "Lettre d'admission — ${formation_code}",
        (
            "${first_name} ${last_name} (dossier ${numero_dossier}),\n\n"
            "Nous avons le plaisir de vous informer que la commission a émis un avis favorable à votre candidature "
            "en ${formation_title} : ${decision_label}.\n\n"
            "{if($confirmation_date)}Confirmez votre candidature sur eCandidat avant le "
            "${confirmation_date}.{endif($confirmation_date)}"
        ),
    ),
    (
        DecisionLetterTemplate.Kind.REFUSAL,
        "Lettre de refus — ${formation_code}",
        (
            "${first_name} ${last_name} (dossier ${numero_dossier}),\n\n"
            "Nous avons le regret de vous informer que la commission a émis un avis défavorable à votre candidature "
            "en ${formation_title}.\n\nMotif : ${reason}"
        ),
    ),
]


def seed(today: datetime.date | None = None) -> None:
    """Create or update the demo catalogue (idempotent: keyed by codes)."""
    today = today or timezone.localdate()
    shift = today - GUIDE_ANCHOR
    year = today.year if today.month >= 9 else today.year - 1
    Campaign.objects.exclude(code=f"{year}").update(is_active=False)
    Campaign.objects.update_or_create(
        code=f"{year}",
        defaults={
            "label": f"Campagne {year}-{year + 1}",
            "starts_on": today - datetime.timedelta(days=90),
            "ends_on": today + datetime.timedelta(days=180),
            "is_active": True,
        },
    )
    centres = {}
    for code, label, address in CENTRES:
        centres[code], _ = Centre.objects.update_or_create(
            code=code,
            defaults={
                "label": label,
                "address": address,
                "email": f"scolarite.{code.lower()}@univ-perp.fr",
                "registration_instructions": REGISTRATION_INSTRUCTIONS,
                "registration_instructions_en": REGISTRATION_INSTRUCTIONS_IN_ENGLISH.get(code, ""),
            },
        )
    commissions = {
        code: Commission.objects.update_or_create(
            code=f"COM-{code}",
            defaults={
                "centre": centre,
                "label": f"Commission pédagogique — {centre.label}",
                "address": centre.address,
                "email": f"commission.{code.lower()}@univ-perp.fr",
                "return_comment": RETURN_COMMENT,
                "return_comment_en": RETURN_COMMENT_IN_ENGLISH.get(code, ""),
            },
        )[0]
        for code, centre in centres.items()
    }
    diplomas = {
        code: DiplomaType.objects.update_or_create(code=code, defaults={"label": label, "order": order})[0]
        for code, label, order in DIPLOMA_TYPES
    }
    formation_types = {
        code: FormationType.objects.update_or_create(
            code=code, defaults={"label": label, "label_en": label_en, "order": order}
        )[0]
        for code, label, label_en, order in FORMATION_TYPES
    }
    pieces = {}
    for order, (code, label, common, conditional) in enumerate(PIECES):
        piece, _ = PieceType.objects.update_or_create(
            code=code,
            defaults={
                "label": label,
                "label_en": PIECES_IN_ENGLISH.get(code, ""),
                "is_common": common,
                "is_conditional": conditional,
                "order": order,
            },
        )
        if code == "DCC" and not piece.template:
            piece.template.save("dossier-complementaire.pdf", ContentFile(_template_pdf(label)), save=True)
        pieces[code] = piece
    questions = {
        code: Question.objects.update_or_create(
            code=code,
            defaults={
                "label": label,
                "candidate_label": text,
                "candidate_label_en": QUESTIONS_IN_ENGLISH.get(code, ""),
                "kind": kind,
                "is_conditional": conditional,
                "order": order,
            },
        )[0]
        for order, (code, label, text, kind, conditional) in enumerate(QUESTIONS)
    }
    for code, centre, diploma, title, keywords, (opens, closes) in FORMATIONS:
        closes_on = closes + shift
        formation, _ = Formation.objects.update_or_create(
            code=code,
            defaults={
                "title": title,
                "title_en": FORMATIONS_IN_ENGLISH.get(code, ""),
                "additional_information": INFORMATION.get(code, ("", ""))[0],
                "additional_information_en": INFORMATION.get(code, ("", ""))[1],
                "keywords": keywords,
                "centre": centres[centre],
                "commission": commissions[centre],
                "diploma_type": diplomas[diploma],
                "formation_type": formation_types[FORMATION_TYPE_OF_DIPLOMA[diploma]],
                "mode": ApplicationMode.ONLINE,
                "opens_on": opens + shift,
                "closes_on": closes_on,
                "return_deadline": closes_on + datetime.timedelta(days=14),
                "confirmation_date": closes_on + datetime.timedelta(days=45),
                "capacity": CAPACITIES.get(code),
                "in_service": True,
            },
        )
        if centre == "SEE":
            formation.piece_types.add(pieces["RECO"], pieces["DCC"])
        formation.questions.add(*(questions[asked] for asked in QUESTION_FORMATIONS.get(code, ())))
    # Issue 12: an admission and a refusal letter per centre, in the mail syntax.
    for demo_centre in centres.values():
        for kind, title, body in LETTERS:
            DecisionLetterTemplate.objects.update_or_create(
                kind=kind,
                centre=demo_centre,
                formation=None,
                defaults={"title": title, "body": body, "signatory": f"Le directeur — {demo_centre.label}"},
            )
