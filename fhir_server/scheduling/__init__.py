"""Scheduling: working hours, slots, $find / $hold / $book, and no double booking (see README "Scheduling")."""
