"""X12 5010 writing and reading helpers shared by the billing workflow.

- `segments.py`: a segment as a tuple of elements, the delimiters, and text <-> segments
  (`render`, `parse`), refusing data that contains a delimiter rather than corrupting a file;
- `envelope.py`: the ISA/GS/ST envelopes with their counts and control numbers
  (the numbers come from `storage/x12_control.py`, so they never repeat);
- `validate.py`: a whole file checked with pyx12 against its 5010 implementation guide map.

An 835 reader parses with `parse` (or pyx12's X12Reader) and validates with `validate`.
"""
