"""Appointment reminders: planned with the booking, sent once by email or SMS, recorded as Communications.

- rules.py: a write rule on Appointment (every write path) schedules a reminder per rule and channel
  when an appointment is booked, cancels them when it is cancelled, re-times them when it moves;
  in the write's own transaction (`storage/reminders.py`).
- config.py: the rules (48 h and 2 h before by default; a JSON file per practice and visit type).
- dispatch.py, duties.py: the leased `send-reminders` duty turns due reminders into messages of the
  outbox (`fhir_server/messaging`) and records each as a Communication, completed or not-done.
- contact.py, content.py: the patient's address, opt-out, language and time zone; the templates.
- calendar.py: the practitioners' iCalendar feeds.
"""
