"""HL7 v2 tables and their FHIR R4 targets (v2-to-FHIR IG vocabulary maps), plus unit text → UCUM.

Status policies for codes the IG leaves unmapped are documented next to each map.
"""

from __future__ import annotations

V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
UCUM = "http://unitsofmeasure.org"

# Table 0001 → administrative-gender. O (other), A (ambiguous), N (not applicable) → other; U → unknown.
GENDER = {"M": "male", "F": "female", "O": "other", "A": "other", "N": "other", "U": "unknown"}

# Table 0004 (patient class) → v3-ActCode for Encounter.class. B/C/N/U: no IG target → class "AMB" is NOT
# guessed; they fall back to the v2-0004 code itself (a valid Coding, just not from the preferred value set).
PATIENT_CLASS = {
    "I": ("IMP", "inpatient encounter"),
    "O": ("AMB", "ambulatory"),
    "E": ("EMER", "emergency"),
    "P": ("PRENC", "pre-admission"),
    "R": ("IMP", "inpatient encounter"),
}

# Table 0078 (abnormal flags) → v3-ObservationInterpretation; same code unless listed.
INTERPRETATION = {
    "N": "N", "L": "L", "H": "H", "LL": "LL", "HH": "HH", "A": "A", "AA": "AA", "<": "<", ">": ">",
    "LU": "LU", "HU": "HU", "I": "I", "R": "R", "S": "S", "MS": "MS", "VS": "VS", "D": "D", "U": "U",
    "B": "B", "W": "W", "POS": "POS", "NEG": "NEG", "IND": "IND", "DET": "DET", "ND": "ND", "NR": "NR",
    "RR": "RR", "QCF": "QCF", "TOX": "TOX", "EXP": "EXP", "E": "E", "CAR": "CAR", "IE": "IE", "H>": "H>",
    "L<": "L<", "<>": "X",
}  # fmt: skip
INTERPRETATION_DISPLAY = {
    "N": "Normal", "L": "Low", "H": "High", "LL": "Critical low", "HH": "Critical high", "A": "Abnormal",
    "AA": "Critical abnormal", "POS": "Positive", "NEG": "Negative", "DET": "Detected", "ND": "Not detected",
}  # fmt: skip

# Table 0085 → Observation.status (IG map): F final, C corrected, P and R (not verified) preliminary, I and S
# registered, O (order received) registered, X (could not be obtained) and N (not asked) cancelled, D (delete) and
# W (wrong) entered-in-error, A amended, U (changed to final) final. Unknown or empty → "unknown" with a warning.
OBSERVATION_STATUS = {
    "F": "final", "C": "corrected", "P": "preliminary", "R": "preliminary", "I": "registered", "S": "registered",
    "X": "cancelled", "D": "entered-in-error", "W": "entered-in-error", "A": "amended", "O": "registered",
    "N": "cancelled", "U": "final",
}  # fmt: skip

# Table 0123 (result status) → DiagnosticReport.status. IG: O/I/S → registered/partial; A (some results) → partial;
# P → preliminary; C → corrected; R (not verified) → preliminary; F → final; X → cancelled; Y/Z (no order / no
# record) → unknown? R4 DiagnosticReport has "unknown": used for Y, Z and empty/unrecognized codes (warned).
REPORT_STATUS = {
    "O": "registered", "I": "registered", "S": "partial", "A": "partial", "P": "preliminary", "C": "corrected",
    "R": "preliminary", "F": "final", "X": "cancelled", "Y": "unknown", "Z": "unknown", "M": "amended",
}  # fmt: skip

# ORC-1 (table 0119) and ORC-5 (table 0038) → ServiceRequest.status; ORC-5 wins when present.
ORDER_CONTROL_STATUS = {
    "NW": "active", "OK": "active", "SC": "active", "XO": "active", "RP": "active", "RO": "active",
    "CA": "revoked", "OC": "revoked", "CR": "revoked", "OD": "revoked", "DC": "revoked", "DR": "revoked",
    "HD": "on-hold", "OH": "on-hold", "RL": "active", "CM": "completed", "RE": "active",
}  # fmt: skip
ORDER_STATUS = {
    "A": "active", "CA": "revoked", "CM": "completed", "DC": "revoked", "ER": "entered-in-error",
    "HD": "on-hold", "IP": "active", "RP": "revoked", "SC": "active",
}  # fmt: skip

# v2 coding-system names (table 0396 and common variants) → FHIR system URIs.
CODING_SYSTEMS = {
    "LN": "http://loinc.org", "LOINC": "http://loinc.org", "SCT": "http://snomed.info/sct",
    "SNM": "http://snomed.info/sct", "SNOMED": "http://snomed.info/sct", "UCUM": UCUM, "ISO+": UCUM,
    "I10": "http://hl7.org/fhir/sid/icd-10", "I10C": "http://hl7.org/fhir/sid/icd-10-cm",
    "I9": "http://hl7.org/fhir/sid/icd-9-cm", "I9C": "http://hl7.org/fhir/sid/icd-9-cm",
    "C4": "http://www.ama-assn.org/go/cpt", "CPT": "http://www.ama-assn.org/go/cpt",
    "HL70078": V3_INTERPRETATION, "HL70136": "http://terminology.hl7.org/CodeSystem/v2-0136",
    "HL70005": "urn:oid:2.16.840.1.113883.6.238", "CDCREC": "urn:oid:2.16.840.1.113883.6.238",
    "HL70203": V2_0203, "NPI": "http://hl7.org/fhir/sid/us-npi", "CVX": "http://hl7.org/fhir/sid/cvx",
    "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm",
}  # fmt: skip

# Unit text as labs send it → UCUM code (the original text is kept in Quantity.unit).
UNITS = {
    "%": "%", "percent": "%", "g/dl": "g/dL", "mg/dl": "mg/dL", "g/l": "g/L", "mg/l": "mg/L", "g/ml": "g/mL",
    "mmol/l": "mmol/L", "umol/l": "umol/L", "µmol/l": "umol/L", "nmol/l": "nmol/L", "pmol/l": "pmol/L",
    "meq/l": "meq/L", "iu/l": "[IU]/L", "u/l": "U/L", "ml": "mL", "l": "L", "g": "g", "kg": "kg", "mg": "mg",
    "ug": "ug", "lb": "[lb_av]", "lbs": "[lb_av]", "cm": "cm", "mm": "mm", "m": "m", "in": "[in_i]",
    "fl": "fL", "pg": "pg", "pg/{cell}": "pg/{cell}", "s": "s", "sec": "s", "min": "min", "h": "h", "hr": "h",
    "d": "d", "wk": "wk", "mo": "mo", "a": "a", "yr": "a", "year": "a", "years": "a", "mm[hg]": "mm[Hg]",
    "mmhg": "mm[Hg]", "beats/min": "/min", "bpm": "/min", "/min": "/min", "cel": "Cel", "degc": "Cel",
    "10*3/ul": "10*3/uL", "10*6/ul": "10*6/uL", "10*9/l": "10*9/L", "10*12/l": "10*12/L", "giga.l-1": "10*9/L",
    "tera.l-1": "10*12/L", "g/l-1": "g/L", "k/ul": "10*3/uL", "m/ul": "10*6/uL", "{cells}/ul": "{cells}/uL",
    "/ul": "/uL", "/mm3": "/mm3", "mill/mm3": "10*6/mm3", "fl/{cell}": "fL", "{ratio}": "{ratio}",
    "ratio": "{ratio}", "mg/dl(calc)": "mg/dL", "ng/ml": "ng/mL", "ug/ml": "ug/mL", "ug/dl": "ug/dL",
}  # fmt: skip


def ucum(unit: str) -> str | None:
    """The UCUM code for a unit text, or None when unknown."""
    return UNITS.get(unit.strip().lower())


def coding_system(name: str) -> str | None:
    """The FHIR system URI for a v2 coding-system name (None when unknown)."""
    key = name.strip().upper()
    if key in CODING_SYSTEMS:
        return CODING_SYSTEMS[key]
    if key.startswith("HL7") and key[3:].isdigit():
        return f"http://terminology.hl7.org/CodeSystem/v2-{key[3:]}"
    return None
