"""Scheduling: working hours, Slots, `$find` / `$hold` / `$book`, and no double booking.

Design (the user-visible side is in README "Scheduling"):

- Working hours live on the Schedule as extensions (extensions.py): RRULE + local times + an IANA time
  zone, closed periods, slot length, overbooking allowance; its `serviceType` lists the visit types.
  A write rule refuses hours that cannot be read (rules.py).
- Slots are generated from them (availability.py, slots.py) with deterministic ids by a leased duty
  (duties.py) over a rolling horizon; free ones follow the hours, booked ones are never touched and,
  outside new hours, reported by a Task.
- Whether an actor is free is decided by its holding Appointments (appointments.py), never by Slot
  status alone, so a booking made by plain REST counts too: the no-double-booking rule (rules.py) runs
  inside every Appointment write and takes a lock per actor and day.
- The operations (operations.py) call plain async functions (find.py, booking.py) that write through
  one engine transaction each: the Appointment and the Slots (or Encounter) it changes, together.
"""
