"""Claims out: coverage rules, eligibility (X12 270/271), the professional claim (assembly, checks),
its X12 837P 5010 batch file and its CMS-1500 PDF."""
