"""The medication workflow: prescribing (prescribing/) and the dispensary (stock/)."""
