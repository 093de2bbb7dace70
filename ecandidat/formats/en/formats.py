"""English date formats: the month by name, day first ("15 Jan 2027"), never the ambiguous 01/15/2027."""

SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
