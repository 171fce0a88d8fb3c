"""Integrated billing: charges and claims out (charges/, claims/, x12/), money in (payments/, accounts/)."""
