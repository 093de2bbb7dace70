"""Demo students of the development ENT.

The single source for their student numbers: the main app's demo student-records data must use the same ones.
"""

from dataclasses import dataclass

DEMO_PASSWORD = "ent-demo-password"
EMAIL_DOMAIN = "etudiant.univ-perp.fr"


@dataclass(frozen=True)
class DemoStudent:
    username: str
    student_number: str
    first_name: str
    last_name: str

    @property
    def email(self) -> str:
        return f"{self.username}@{EMAIL_DOMAIN}"


STUDENTS = [
    DemoStudent("estelle.martin", "21900001", "Estelle", "MARTIN"),
    DemoStudent("lucas.bernard", "21900002", "Lucas", "BERNARD"),
    DemoStudent("ines.garcia", "21900003", "Inès", "GARCIA"),
]

# Staff of the development ENT (CAS logins to the back office; devtools/ldap/fixture.ldif lists them as staff).
STAFF_EMAIL_DOMAIN = "univ-perp.fr"
STAFF = [
    DemoStudent("sophie.gestion", "", "Sophie", "GESTION"),
]
