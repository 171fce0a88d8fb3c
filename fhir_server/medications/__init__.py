"""The medication workflows: prescribing (prescribing/) and the dispensary with its stock (stock/)."""
