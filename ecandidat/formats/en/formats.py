"""English date formats: the month by name, day first ("15 Jan 2027"), never the ambiguous 01/15/2027."""

# Django's own, "N j, Y" ("March 9, 2001", "Dec. 2, 2026, 5:48 p.m."), stayed for dates shown without a format
# (the back office's lists, a date in a template without one), beside "2 Dec 2026" on the same pages.
DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j F Y, H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
