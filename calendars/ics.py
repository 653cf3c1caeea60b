"""iCalendar (RFC 5545) rendering of calendar events, with icalendar."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.utils import timezone
from icalendar import Alarm, Calendar, Event

from calendars.events import CalendarEvent

PRODID = "-//BAA Tracker//Calendar feed//EN"
UID_DOMAIN = "baa-tracker"


def to_ics(events: Iterable[CalendarEvent], *, name: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    stamp = timezone.now()
    for item in events:
        event = Event()
        event.add("uid", f"{item.key}@{UID_DOMAIN}")
        event.add("dtstamp", stamp)
        event.add("dtstart", item.on)  # a date: an all-day event
        event.add("dtend", item.on + datetime.timedelta(days=1))
        event.add("summary", item.summary)
        event.add("description", item.description + (f"\n{item.url}" if item.url else ""))
        event.add("transp", "TRANSPARENT")
        if item.url:
            event.add("url", item.url)
        if item.category:
            event.add("categories", [item.category])
        if item.remind_days_before:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", item.summary)
            alarm.add("trigger", datetime.timedelta(days=-item.remind_days_before))
            event.add_component(alarm)
        calendar.add_component(event)
    return calendar.to_ical()
