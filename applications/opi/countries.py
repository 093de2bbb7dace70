"""ISO 3166-1 alpha-2 (what the dossier stores) → the INSEE country code that Apogée and Pégase use (the last three
digits of the INSEE COG code ``99`` followed by three digits; France is ``100``).

Where a code comes from, first match wins:

1. a French overseas département offered as a country by the built-in ISO list (Guadeloupe ``GP``, Martinique
   ``MQ``, Guyane ``GF``, La Réunion ``RE``, Saint-Pierre-et-Miquelon ``PM``, Mayotte ``YT``): France, ``100``;
   the place is in France, its département (``971``…) is given by ``french_department``;
2. the student records system's own list once refreshed (``ReferenceCountry``, Pégase ``PaysNationalite``: its
   ``code`` for the row matched to the ISO code, a visible row before a hidden one);
3. the table below: every sovereign country of the INSEE "pays et territoires étrangers" list (COG), checked against
   it, and Kosovo and Palestine.

A place found nowhere (another French overseas collectivity such as ``NC`` or ``PF``, a dependent territory)
gives an empty code in the OPI file, for the scolarité to fill in.
"""

from applications.models.reference import ReferenceCountry, memoised

FRANCE_INSEE = "100"
FRANCE_ISO = "FR"

# The overseas départements of the dossier's list (applications.departments) that the ISO list also names as
# countries.
OVERSEAS_DEPARTMENTS = {"GP": "971", "MQ": "972", "GF": "973", "RE": "974", "PM": "975", "YT": "976"}

INSEE_BY_ISO = {
    "FR": "100",
    # Europe
    "DK": "101", "IS": "102", "NO": "103", "SE": "104", "FI": "105", "EE": "106", "LV": "107", "LT": "108",
    "DE": "109", "AT": "110", "BG": "111", "HU": "112", "LI": "113", "RO": "114", "CZ": "116", "SK": "117",
    "BA": "118", "HR": "119", "ME": "120", "RS": "121", "PL": "122", "RU": "123", "AL": "125", "GR": "126",
    "IT": "127", "SM": "128", "VA": "129", "AD": "130", "BE": "131", "GB": "132", "ES": "134", "NL": "135",
    "IE": "136", "LU": "137", "MC": "138", "PT": "139", "CH": "140", "MT": "144", "SI": "145", "BY": "148",
    "MD": "151", "UA": "155", "MK": "156", "XK": "157",
    # Asia
    "SA": "201", "IQ": "203", "IR": "204", "LB": "205", "SY": "206", "IL": "207", "TR": "208", "AF": "212",
    "PK": "213", "BT": "214", "NP": "215", "CN": "216", "JP": "217", "TH": "219", "PH": "220", "JO": "222",
    "IN": "223", "MM": "224", "BN": "225", "SG": "226", "MY": "227", "MV": "229", "HK": "230", "ID": "231",
    "MO": "232", "KH": "234", "LK": "235", "TW": "236", "KP": "238", "KR": "239", "KW": "240", "LA": "241",
    "MN": "242", "VN": "243", "BD": "246", "AE": "247", "QA": "248", "BH": "249", "OM": "250", "YE": "251",
    "AM": "252", "AZ": "253", "CY": "254", "GE": "255", "KZ": "256", "KG": "257", "UZ": "258", "TJ": "259",
    "TM": "260", "PS": "261", "TL": "262",
    # Africa
    "EG": "301", "LR": "302", "ZA": "303", "GM": "304", "TZ": "309", "ZW": "310", "NA": "311", "CD": "312",
    "GQ": "314", "ET": "315", "LY": "316", "ER": "317", "SO": "318", "BI": "321", "CM": "322", "CF": "323",
    "CG": "324", "CI": "326", "BJ": "327", "GA": "328", "GH": "329", "GN": "330", "BF": "331", "KE": "332",
    "MG": "333", "MW": "334", "ML": "335", "MR": "336", "NE": "337", "NG": "338", "UG": "339", "RW": "340",
    "SN": "341", "SL": "342", "SD": "343", "TD": "344", "TG": "345", "ZM": "346", "BW": "347", "LS": "348",
    "SS": "349", "MA": "350", "TN": "351", "DZ": "352", "EH": "389", "MU": "390", "SZ": "391", "GW": "392",
    "MZ": "393", "ST": "394", "AO": "395", "CV": "396", "KM": "397", "SC": "398", "DJ": "399",
    # Americas
    "CA": "401", "US": "404", "MX": "405", "CR": "406", "CU": "407", "DO": "408", "GT": "409", "HT": "410",
    "HN": "411", "NI": "412", "PA": "413", "SV": "414", "AR": "415", "BR": "416", "CL": "417", "BO": "418",
    "CO": "419", "EC": "420", "PY": "421", "PE": "422", "UY": "423", "VE": "424", "JM": "426", "GY": "428",
    "BZ": "429", "TT": "433", "BB": "434", "GD": "435", "BS": "436", "SR": "437", "DM": "438", "LC": "439",
    "VC": "440", "AG": "441", "KN": "442",
    # Oceania
    "AU": "501", "NZ": "502", "WS": "506", "NR": "507", "FJ": "508", "TO": "509", "PG": "510", "TV": "511",
    "SB": "512", "KI": "513", "VU": "514", "MH": "515", "FM": "516", "PW": "517",
}  # fmt: skip


def _reference_codes() -> dict[str, str]:
    """ISO code → the SIS's code, from the refreshed ``ReferenceCountry`` rows (empty when never refreshed); kept
    as the other reference lists are (``memoised``)."""

    def load() -> list[dict[str, str]]:
        codes: dict[str, str] = {}
        rows = ReferenceCountry.objects.exclude(iso_code="").order_by("-visible", "code")
        for iso_code, code in rows.values_list("iso_code", "code"):
            codes.setdefault(iso_code.upper(), code)
        return [codes]

    return memoised("country_insee_codes", load)[0]


def insee_country(iso_code: str) -> str:
    """The INSEE code of an ISO alpha-2 country code (an overseas département is France); "" when unknown or
    empty."""
    iso_code = (iso_code or "").upper()
    if not iso_code:
        return ""
    if iso_code in OVERSEAS_DEPARTMENTS:
        return FRANCE_INSEE
    return _reference_codes().get(iso_code) or INSEE_BY_ISO.get(iso_code, "")


def in_france(iso_code: str) -> bool:
    """France or one of its overseas départements offered as a country."""
    return (iso_code or "").upper() in {FRANCE_ISO, *OVERSEAS_DEPARTMENTS}


def french_department(iso_code: str, department: str) -> str:
    """The département of a place in France: the dossier's for France, ``971``… for an overseas département picked
    as a country; "" elsewhere."""
    iso_code = (iso_code or "").upper()
    if iso_code == FRANCE_ISO:
        return department
    return OVERSEAS_DEPARTMENTS.get(iso_code, "")
